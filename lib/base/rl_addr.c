#include "rl_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "rl_err.h"

/* rl_addr_put makes *ss the address of bin (an in_addr or in6_addr of family) and port;
 * returns its length. */
static socklen_t rl_addr_put(struct sockaddr_storage *ss, int family, const void *bin, unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	rl_addr_set_port((struct sockaddr *)ss, port);
	if (family == AF_INET)
		memcpy(&((struct sockaddr_in *)ss)->sin_addr, bin, sizeof(struct in_addr));
	else
		memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, bin, sizeof(struct in6_addr));
	return rl_addr_len(family);
}

/* rl_addr_port_text reads a decimal port that ends the string; 0 or RL_EINVAL. */
static int rl_addr_port_text(const char *p, unsigned flags, unsigned *port)
{
	const char *d = p;
	unsigned long v = 0;

	/* Digits only: strtoul would take signs and spaces. Stop early so v cannot wrap. */
	for (; *d >= '0' && *d <= '9' && v <= 65535; d++)
		v = v * 10 + (unsigned long)(*d - '0');
	if (d == p || *d != '\0' || v > 65535 || (v == 0 && !(flags & RL_ADDR_ANY_PORT)))
		return RL_EINVAL;
	*port = (unsigned)v;
	return RL_OK;
}

int rl_addr_parse(const char *s, unsigned flags, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *h, *colon;
	size_t n, hl;
	unsigned port;
	struct in_addr a4;
	struct in6_addr a6;

	if (s == NULL || (n = strnlen(s, RL_ADDR_STRLEN)) == RL_ADDR_STRLEN)
		return RL_EINVAL;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (rb == NULL || rb[1] != ':')
			return RL_EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		/* Without brackets only IPv4: in "::1:5060" no colon can be told to be the port's. */
		if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':') != NULL)
			return RL_EINVAL;
		h = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host) || rl_addr_port_text(colon + 1, flags, &port) != RL_OK)
		return RL_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return RL_EINVAL;
		*len = rl_addr_put(ss, AF_INET6, &a6, port);
	} else {
		if (inet_pton(AF_INET, host, &a4) != 1)
			return RL_EINVAL;
		*len = rl_addr_put(ss, AF_INET, &a4, port);
	}
	return RL_OK;
}

int rl_addr_from_ip(const char *ip, unsigned port, int family, struct sockaddr_storage *ss, socklen_t *len)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (ip == NULL || port > 65535)
		return RL_EINVAL;
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		if (family != AF_INET6) {
			*len = rl_addr_put(ss, AF_INET, &a4, port);
			return RL_OK;
		}
		memset(&a6, 0, sizeof(a6));
		a6.s6_addr[10] = a6.s6_addr[11] = 0xff;
		memcpy(&a6.s6_addr[12], &a4, 4);
	} else if (family == AF_INET || inet_pton(AF_INET6, ip, &a6) != 1) {
		return RL_EINVAL;
	}
	*len = rl_addr_put(ss, AF_INET6, &a6, port);
	return RL_OK;
}

int rl_addr_ip_family(const char *ip)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (ip == NULL)
		return 0;
	if (inet_pton(AF_INET, ip, buf) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, ip, buf) == 1)
		return AF_INET6;
	return 0;
}

int rl_addr_ip(const struct sockaddr *sa, char *ip, size_t cap)
{
	const void *bin;

	if (sa->sa_family == AF_INET)
		bin = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		bin = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return RL_EINVAL;
	return inet_ntop(sa->sa_family, bin, ip, (socklen_t)cap) != NULL ? RL_OK : RL_EINVAL;
}

const char *rl_addr_format_ip(const char *ip, unsigned port, char *out, size_t cap)
{
	if (strchr(ip, ':') != NULL)
		snprintf(out, cap, "[%s]:%u", ip, port);
	else
		snprintf(out, cap, "%s:%u", ip, port);
	return out;
}

const char *rl_addr_format(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (rl_addr_ip(sa, ip, sizeof(ip)) != RL_OK) {
		snprintf(out, cap, "?");
		return out;
	}
	return rl_addr_format_ip(ip, rl_addr_port(sa), out, cap);
}

unsigned rl_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void rl_addr_set_port(struct sockaddr *sa, unsigned port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

socklen_t rl_addr_len(int family)
{
	if (family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

int rl_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}
