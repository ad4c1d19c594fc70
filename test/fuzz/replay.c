/*
 * Replays a fuzz corpus without libFuzzer: every file under the directory
 * given as argument goes once through LLVMFuzzerTestOneInput.  This runs
 * the seeds (and any crash reproducer added to them) in every build.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	FILE	*fp = fopen(path, "rb");
	uint8_t	*buf;
	long	 len;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 ||
	    (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
		return -1;
	if ((buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	char		 path[4096];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if (argc != 2 || (d = opendir(argv[1])) == NULL) {
		fprintf(stderr, "usage: replay CORPUS_DIR\n");
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) == -1) {
			fprintf(stderr, "%s: unreadable\n", path);
			return 1;
		}
		n++;
	}
	closedir(d);
	printf("%d inputs replayed\n", n);
	return n > 0 ? 0 : 1;
}
