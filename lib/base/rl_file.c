#include "rl_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_alloc.h"
#include "rl_err.h"

int rl_file_read(const char *path, size_t max, char **data, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rv = RL_OK;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return RL_ENOENT;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || (size_t)st.st_size > max) {
		close(fd);
		return RL_ETOOBIG;
	}
	*data = rl_malloc((size_t)st.st_size + 1);
	if (read(fd, *data, (size_t)st.st_size) != st.st_size) {
		free(*data);
		*data = NULL;
		rv = RL_EIO;
	} else {
		(*data)[st.st_size] = 0;
		*len = (size_t)st.st_size;
	}
	close(fd);
	return rv;
}
