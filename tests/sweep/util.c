/*
 * The sweep's byte streams: a pattern whose every byte says where it
 * belongs, so a lost, repeated, reordered or canary byte shows.
 */
#include <fcntl.h>
#include <unistd.h>

#include "sweep.h"

void sweep_pattern(void *buf, size_t n, uint64_t from, unsigned seed)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		p[i] = sweep_byte(from + i, seed);
}

bool sweep_pattern_ok(const void *buf, size_t n, uint64_t from, unsigned seed)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		if (p[i] != sweep_byte(from + i, seed))
			return false;
	return true;
}

long sweep_drain(int fd, uint64_t *at, unsigned seed)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	char buf[4096];
	long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (!sweep_pattern_ok(buf, (size_t)n, *at, seed)) {
			total = -1;
			break;
		}
		*at += (uint64_t)n;
		total += n;
	}
	fcntl(fd, F_SETFL, fl);
	return total;
}

int sweep_yield(int n)
{
	for (int i = 0; i < n; i++) {
		int rc = ringo_sleep(0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

