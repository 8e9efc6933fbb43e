/*
 * rl_err.h - the one error space of Relais.
 *
 * Every function that can fail returns 0 (RL_OK) or one of these codes; rl_strerror()
 * turns a code into a short, constant English phrase.
 */
#ifndef RL_ERR_H
#define RL_ERR_H

enum rl_err {
	RL_OK = 0,
	RL_ENOMEM,    /* out of memory */
	RL_EINVAL,    /* invalid argument or field */
	RL_ENOENT,    /* no such object */
	RL_EEXIST,    /* object exists */
	RL_ECONFLICT, /* transition does not fit the current state */
	RL_EPROTO,    /* malformed message */
	RL_ETOOBIG,   /* message or field over its bound */
	RL_EVERSION,  /* unsupported protocol version */
	RL_EIO,       /* I/O or storage error */
	RL_ETIMEDOUT, /* timed out */
	RL_EAUTH,     /* authentication failed */
	RL_ECLOSED,   /* object closed */
	RL_ENET,      /* network / transport error */
	RL_ECONFIG,   /* bad configuration */
	RL_EFULL,     /* queue or table full */
	RL_EAGAIN,    /* try again later */
	RL_ERANGE,    /* value out of range */
	RL_EPERM,     /* not permitted */
	RL_ERR_MAX
};

/* rl_strerror returns a static string for code; never NULL. */
const char *rl_strerror(int code);

#endif
