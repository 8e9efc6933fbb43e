/*
 * rl_addr.h - IP addresses with a port: the one place that parses, formats and compares them.
 *
 * Text forms: "a.b.c.d:port" for IPv4 and "[v6]:port" for IPv6 (the bracketed form of RFC
 * 3986; "::1:5060" is ambiguous and refused), and bare IP literals ("a.b.c.d", "v6") where the
 * port travels apart, as in SDP. Numeric literals only: nothing here resolves a name. An
 * address lives in a struct sockaddr_storage with its length, ready for bind, connect and
 * sendto; ports are in host order in this API. Nothing allocates; every function is
 * thread-safe.
 */
#ifndef RL_ADDR_H
#define RL_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for any "[v6]:port" and its NUL; longer text is never an address. */
#define RL_ADDR_STRLEN 64

/* rl_addr_parse flags */
#define RL_ADDR_ANY_PORT 1u /* port 0 is accepted: a bind address, the kernel picks the port */

/* rl_addr_parse reads "a.b.c.d:port" or "[v6]:port" into *ss (zeroed first) and its length
 * into *len. The port is 1..65535 in decimal digits (0 too with RL_ADDR_ANY_PORT).
 * Errors: RL_EINVAL (NULL, no port, a bad or out-of-range port, not an IP literal, an
 * unbracketed IPv6 address, RL_ADDR_STRLEN bytes or more). */
int rl_addr_parse(const char *s, unsigned flags, struct sockaddr_storage *ss, socklen_t *len);

/* rl_addr_from_ip makes the address of IP literal ip and port (0 allowed) into *ss and *len.
 * family 0: the literal's own; AF_INET: an IPv4 literal only; AF_INET6: an IPv6 literal, or an
 * IPv4 one as ::ffff:a.b.c.d (for a dual-stack IPv6 socket). Errors: RL_EINVAL. */
int rl_addr_from_ip(const char *ip, unsigned port, int family, struct sockaddr_storage *ss, socklen_t *len);

/* rl_addr_ip_family: AF_INET or AF_INET6 if ip (may be NULL) is an IP literal of that family,
 * else 0. */
int rl_addr_ip_family(const char *ip);

/* rl_addr_format writes sa as "a.b.c.d:port" or "[v6]:port" into out, or "?" if sa is not
 * AF_INET or AF_INET6; the text is cut to cap - 1 bytes (RL_ADDR_STRLEN is enough). Returns
 * out. */
const char *rl_addr_format(const struct sockaddr *sa, char *out, size_t cap);

/* rl_addr_format_ip writes IP literal ip and port as "ip:port", or "[ip]:port" for an IPv6
 * literal, into out (cut to cap - 1 bytes). Returns out. */
const char *rl_addr_format_ip(const char *ip, unsigned port, char *out, size_t cap);

/* rl_addr_ip writes the IP of sa alone, canonical (inet_ntop), into ip.
 * Errors: RL_EINVAL (not AF_INET or AF_INET6, or cap too small). */
int rl_addr_ip(const struct sockaddr *sa, char *ip, size_t cap);

/* rl_addr_port: the port of sa in host order, 0 if sa is not AF_INET or AF_INET6. */
unsigned rl_addr_port(const struct sockaddr *sa);

/* rl_addr_set_port sets the port of an AF_INET or AF_INET6 address (others are left alone). */
void rl_addr_set_port(struct sockaddr *sa, unsigned port);

/* rl_addr_len: the length of a sockaddr of family (AF_INET, AF_INET6), 0 for another. */
socklen_t rl_addr_len(int family);

/* rl_addr_equal: 1 if a and b have the same family, IP and port (and IPv6 scope id), else 0.
 * An IPv4 address and the same one mapped into IPv6 differ. */
int rl_addr_equal(const struct sockaddr *a, const struct sockaddr *b);

#endif
