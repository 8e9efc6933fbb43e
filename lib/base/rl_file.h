/*
 * rl_file.h - reading a small file whole (a saved dial plan or site model, a certificate, a
 * page to serve).
 */
#ifndef RL_FILE_H
#define RL_FILE_H

#include <stddef.h>

/*
 * rl_file_read reads path whole into *data (the caller frees it), followed by a NUL that *len
 * does not count. Errors (*data NULL): RL_ENOENT (cannot be opened), RL_ETOOBIG (empty, or
 * over max bytes), RL_EIO (a short read).
 */
int rl_file_read(const char *path, size_t max, char **data, size_t *len);

#endif
