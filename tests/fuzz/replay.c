/*
 * Replay: run every file of a fuzz target's seed corpus through the
 * target once, built with the project's own compiler (no clang, no
 * libFuzzer), so make test keeps the corpus as a regression suite and the
 * sanitizer and valgrind runs of make test cover the targets' bodies too.
 *
 *   replay_<target> [FILE|DIR]...
 *
 * Without arguments it reads the target's seed corpus: FUZZ_CORPUS/<target>,
 * FUZZ_CORPUS being the corpus directory the build compiled in and
 * <target> what follows "replay_" in the program's name. A failing property aborts with the file's name; an input
 * that crashes the parser does so under the sanitizer of the build.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#include <sanitizer/common_interface_defs.h>
#define HAVE_DEATH_CALLBACK 1
#endif

/* Run one file. The bytes sit in a buffer of exactly their size, as
 * libFuzzer hands them over, so a read past the end is caught by ASan.
 * 0, or -errno if the file cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0) {
		int err = -errno;
		fclose(f);
		return err;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *data = malloc(size ? size : 1);
	size_t got = data ? fread(data, 1, size, f) : 0;
	fclose(f);
	if (!data || got != size) {
		free(data);
		return data ? -EIO : -ENOMEM;
	}
	fuzz_input_name = path;
	LLVMFuzzerTestOneInput(data, size);
	fuzz_input_name = NULL;
	free(data);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of dir, in name order. How many ran, or -errno. */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name);
	if (n < 0)
		return -errno;
	int ran = 0, err = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (!err && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			err = replay_file(path);
			if (err)
				fprintf(stderr, "replay: %s: %s\n", path, strerror(-err));
			else
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return err ? err : ran;
}

#ifdef HAVE_DEATH_CALLBACK
/* A sanitizer report ends the process without returning here: name the
 * input it was running. */
static void on_death(void)
{
	if (fuzz_input_name)
		fprintf(stderr, "replay: died on input %s\n", fuzz_input_name);
}
#endif

int main(int argc, char **argv)
{
#ifdef HAVE_DEATH_CALLBACK
	__sanitizer_set_death_callback(on_death);
#endif
	const char *base = strrchr(argv[0], '/'), *target = strstr(base ? base : argv[0], "replay_");
	char corpus[4096];
	snprintf(corpus, sizeof(corpus), "%s/%s", FUZZ_CORPUS, target ? target + 7 : "");
	const char *fallback[] = {corpus};
	const char **args = argc > 1 ? (const char **)argv + 1 : fallback;
	int nargs = argc > 1 ? argc - 1 : 1, total = 0;
	for (int i = 0; i < nargs; i++) {
		struct stat st;
		int rc = stat(args[i], &st) < 0 ? -errno
			 : S_ISDIR(st.st_mode)    ? replay_dir(args[i])
						  : (replay_file(args[i]) ?: 1);
		if (rc < 0) {
			fprintf(stderr, "replay: %s: %s\n", args[i], strerror(-rc));
			return 1;
		}
		total += rc;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("replay: %d inputs passed%s%s\n", total, argc > 1 ? "" : " from ", argc > 1 ? "" : corpus);
	return 0;
}
