#include "rl_err.h"

static const char *const rl_errmsgs[RL_ERR_MAX] = {
    [RL_OK] = "success",
    [RL_ENOMEM] = "out of memory",
    [RL_EINVAL] = "invalid argument",
    [RL_ENOENT] = "no such object",
    [RL_EEXIST] = "object exists",
    [RL_ECONFLICT] = "state conflict",
    [RL_EPROTO] = "malformed message",
    [RL_ETOOBIG] = "too big",
    [RL_EVERSION] = "unsupported version",
    [RL_EIO] = "input/output error",
    [RL_ETIMEDOUT] = "timed out",
    [RL_EAUTH] = "authentication failed",
    [RL_ECLOSED] = "closed",
    [RL_ENET] = "network error",
    [RL_ECONFIG] = "bad configuration",
    [RL_EFULL] = "full",
    [RL_EAGAIN] = "try again",
    [RL_ERANGE] = "out of range",
    [RL_EPERM] = "not permitted",
};

const char *rl_strerror(int code)
{
	if (code < 0 || code >= RL_ERR_MAX || rl_errmsgs[code] == 0)
		return "unknown error";
	return rl_errmsgs[code];
}
