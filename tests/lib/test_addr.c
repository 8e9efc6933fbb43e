/* Addresses: "IP:port" and "[v6]:port" parsed and formatted back, bare IP literals, ports,
 * comparison, and the text that must be refused (no port, port 0 or 65536, garbage,
 * unbracketed IPv6, overlong). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "rl_addr.h"
#include "rl_err.h"
#include "rltest.h"

#define SA(ss) ((struct sockaddr *)(ss))

/* round_trip: s parses with flags and formats back to want (NULL: to s itself). */
static int round_trip(const char *s, unsigned flags, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char out[RL_ADDR_STRLEN];

	if (rl_addr_parse(s, flags, &ss, &len) != RL_OK || len != rl_addr_len(ss.ss_family))
		return 0;
	return strcmp(rl_addr_format(SA(&ss), out, sizeof(out)), want ? want : s) == 0;
}

static int refused(const char *s, unsigned flags)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	return rl_addr_parse(s, flags, &ss, &len) == RL_EINVAL;
}

static void v4(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

	RL_REQUIRE(rl_addr_parse("192.0.2.10:5060", 0, &ss, &len) == RL_OK);
	RL_CHECK(ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
	RL_CHECK(ntohs(in->sin_port) == 5060 && in->sin_addr.s_addr == htonl(0xC000020A));
	RL_CHECK(rl_addr_port(SA(&ss)) == 5060);
	RL_CHECK(round_trip("127.0.0.1:1", 0, NULL));
	RL_CHECK(round_trip("255.255.255.255:65535", 0, NULL));
	RL_CHECK(round_trip("10.0.0.1:007", 0, "10.0.0.1:7"));
	/* a bind address may leave the port to the kernel; a peer's may not */
	RL_CHECK(round_trip("0.0.0.0:0", RL_ADDR_ANY_PORT, NULL));
	RL_CHECK(refused("0.0.0.0:0", 0));
}

static void v6(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
	char ip[INET6_ADDRSTRLEN];

	RL_REQUIRE(rl_addr_parse("[2001:db8::1]:7500", 0, &ss, &len) == RL_OK);
	RL_CHECK(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
	RL_CHECK(ntohs(in6->sin6_port) == 7500 && in6->sin6_addr.s6_addr[0] == 0x20 && in6->sin6_addr.s6_addr[15] == 1);
	RL_CHECK(rl_addr_ip(SA(&ss), ip, sizeof(ip)) == RL_OK && strcmp(ip, "2001:db8::1") == 0);
	RL_CHECK(rl_addr_ip(SA(&ss), ip, 4) == RL_EINVAL);
	RL_CHECK(round_trip("[::1]:5060", 0, NULL));
	RL_CHECK(round_trip("[::]:0", RL_ADDR_ANY_PORT, NULL));
	/* the text comes back canonical */
	RL_CHECK(round_trip("[2001:DB8:0:0:0:0:0:1]:9", 0, "[2001:db8::1]:9"));
	RL_CHECK(round_trip("[::ffff:127.0.0.1]:4000", 0, NULL));
}

static void bad(void)
{
	char longest[RL_ADDR_STRLEN + 8];

	RL_CHECK(refused(NULL, 0));
	RL_CHECK(refused("", 0));
	/* no port */
	RL_CHECK(refused("127.0.0.1", 0));
	RL_CHECK(refused("127.0.0.1:", 0));
	RL_CHECK(refused("[::1]", 0));
	RL_CHECK(refused("[::1]:", 0));
	RL_CHECK(refused(":5060", 0));
	/* ports out of range or not plain digits */
	RL_CHECK(refused("127.0.0.1:0", 0));
	RL_CHECK(refused("127.0.0.1:65536", RL_ADDR_ANY_PORT));
	RL_CHECK(refused("127.0.0.1:99999999999999999999", RL_ADDR_ANY_PORT));
	RL_CHECK(refused("127.0.0.1:-1", RL_ADDR_ANY_PORT));
	RL_CHECK(refused("127.0.0.1:+80", 0));
	RL_CHECK(refused("127.0.0.1: 80", 0));
	RL_CHECK(refused("127.0.0.1:80x", 0));
	/* garbage, names, and families in the wrong form */
	RL_CHECK(refused("nonsense", 0));
	RL_CHECK(refused("localhost:80", 0));
	RL_CHECK(refused("256.0.0.1:80", 0));
	RL_CHECK(refused("127.1:80", 0));
	RL_CHECK(refused("::1:5060", 0));
	RL_CHECK(refused("[::1:5060", 0));
	RL_CHECK(refused("[127.0.0.1]:80", 0));
	RL_CHECK(refused("[::1]x:80", 0));
	RL_CHECK(refused("[fe80::1%eth0]:80", 0));
	/* overlong: the longest accepted text is RL_ADDR_STRLEN - 1 bytes */
	memset(longest, '1', sizeof(longest));
	longest[sizeof(longest) - 1] = '\0';
	RL_CHECK(refused(longest, RL_ADDR_ANY_PORT));
	snprintf(longest, sizeof(longest), "[::ffff:1.2.3.4]:%0*d", RL_ADDR_STRLEN - 18, 5);
	RL_CHECK(strlen(longest) == RL_ADDR_STRLEN - 1 && !refused(longest, 0));
	snprintf(longest, sizeof(longest), "[::ffff:1.2.3.4]:%0*d", RL_ADDR_STRLEN - 17, 5);
	RL_CHECK(strlen(longest) == RL_ADDR_STRLEN && refused(longest, 0));
}

static void from_ip(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char out[RL_ADDR_STRLEN];

	RL_CHECK(rl_addr_ip_family("192.0.2.1") == AF_INET);
	RL_CHECK(rl_addr_ip_family("2001:db8::7") == AF_INET6);
	RL_CHECK(rl_addr_ip_family("::ffff:192.0.2.1") == AF_INET6);
	RL_CHECK(rl_addr_ip_family("example.com") == 0 && rl_addr_ip_family("") == 0 && rl_addr_ip_family(NULL) == 0);

	RL_REQUIRE(rl_addr_from_ip("192.0.2.1", 4000, 0, &ss, &len) == RL_OK);
	RL_CHECK(len == sizeof(struct sockaddr_in) &&
	         strcmp(rl_addr_format(SA(&ss), out, sizeof(out)), "192.0.2.1:4000") == 0);
	/* an IPv4 peer of a dual-stack IPv6 socket */
	RL_REQUIRE(rl_addr_from_ip("192.0.2.1", 4000, AF_INET6, &ss, &len) == RL_OK);
	RL_CHECK(len == sizeof(struct sockaddr_in6) &&
	         strcmp(rl_addr_format(SA(&ss), out, sizeof(out)), "[::ffff:192.0.2.1]:4000") == 0);
	RL_CHECK(rl_addr_from_ip("::1", 0, 0, &ss, &len) == RL_OK && ss.ss_family == AF_INET6 &&
	         rl_addr_port(SA(&ss)) == 0);
	/* an IPv6 address cannot go out of an IPv4 socket */
	RL_CHECK(rl_addr_from_ip("::1", 4000, AF_INET, &ss, &len) == RL_EINVAL);
	RL_CHECK(rl_addr_from_ip("192.0.2.1", 65536, 0, &ss, &len) == RL_EINVAL);
	RL_CHECK(rl_addr_from_ip("192.0.2.1:80", 80, 0, &ss, &len) == RL_EINVAL);
	RL_CHECK(rl_addr_from_ip(NULL, 80, 0, &ss, &len) == RL_EINVAL);

	RL_CHECK(strcmp(rl_addr_format_ip("2001:db8::1", 5004, out, sizeof(out)), "[2001:db8::1]:5004") == 0);
	RL_CHECK(strcmp(rl_addr_format_ip("192.0.2.1", 5004, out, sizeof(out)), "192.0.2.1:5004") == 0);
	/* cut, never overrun */
	RL_CHECK(strcmp(rl_addr_format_ip("192.0.2.1", 5004, out, 6), "192.0") == 0);
}

static void ports_and_equal(void)
{
	struct sockaddr_storage a, b, c;
	socklen_t len;
	char out[RL_ADDR_STRLEN];

	RL_REQUIRE(rl_addr_parse("192.0.2.1:4000", 0, &a, &len) == RL_OK);
	RL_REQUIRE(rl_addr_from_ip("192.0.2.1", 4000, 0, &b, &len) == RL_OK);
	RL_CHECK(rl_addr_equal(SA(&a), SA(&b)));
	rl_addr_set_port(SA(&b), 4002);
	RL_CHECK(rl_addr_port(SA(&b)) == 4002 && !rl_addr_equal(SA(&a), SA(&b)));
	RL_REQUIRE(rl_addr_from_ip("192.0.2.1", 4000, AF_INET6, &c, &len) == RL_OK);
	RL_CHECK(!rl_addr_equal(SA(&a), SA(&c))); /* mapped is another family */
	RL_REQUIRE(rl_addr_parse("[2001:db8::1]:4000", 0, &a, &len) == RL_OK);
	RL_REQUIRE(rl_addr_parse("[2001:db8::2]:4000", 0, &b, &len) == RL_OK);
	RL_CHECK(!rl_addr_equal(SA(&a), SA(&b)));
	RL_REQUIRE(rl_addr_parse("[2001:db8::1]:4000", 0, &b, &len) == RL_OK);
	RL_CHECK(rl_addr_equal(SA(&a), SA(&b)));
	((struct sockaddr_in6 *)&b)->sin6_scope_id = 2;
	RL_CHECK(!rl_addr_equal(SA(&a), SA(&b)));

	/* other families: no port, no text, no length */
	memset(&c, 0, sizeof(c));
	c.ss_family = AF_UNIX;
	RL_CHECK(rl_addr_port(SA(&c)) == 0 && rl_addr_len(AF_UNIX) == 0);
	RL_CHECK(strcmp(rl_addr_format(SA(&c), out, sizeof(out)), "?") == 0);
	RL_CHECK(!rl_addr_equal(SA(&c), SA(&c)));
}

int main(void)
{
	v4();
	v6();
	bad();
	from_ip();
	ports_and_equal();
	return rltest_done();
}
