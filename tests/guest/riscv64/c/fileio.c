/* fileio DIR: file system calls inside the empty directory DIR: open/creat with modes,
 * write/read/pread/pwrite/lseek (SEEK_SET/CUR/END, holes), stat/fstat/lstat, getdents64
 * (through readdir, names sorted), rename, link/symlink/readlink, unlink, mkdir/rmdir,
 * ftruncate, dup/dup2/fcntl, access, errno values, writev/readv, openat/fstatat. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "t.h"

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list_dir(const char *d) {
  DIR *dir = opendir(d);
  CHECK(dir != NULL);
  if (!dir) return;
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) && n < 64) names[n++] = strdup(e->d_name);
  closedir(dir);
  qsort(names, n, sizeof names[0], cmp);
  printf("ls:");
  for (int i = 0; i < n; i++) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    printf("usage: fileio DIR\n");
    return 2;
  }
  if (chdir(argv[1]) != 0) {
    perror("chdir");
    return 2;
  }
  umask(022);
  int fd = open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0640);
  CHECK(fd >= 0);
  const char msg[] = "hello file\n";
  CHECK(write(fd, msg, sizeof msg - 1) == (ssize_t)sizeof msg - 1);
  printf("lseek cur=%ld\n", (long)lseek(fd, 0, SEEK_CUR));
  printf("lseek end+100=%ld\n", (long)lseek(fd, 100, SEEK_END));
  CHECK(write(fd, "X", 1) == 1);
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  printf("size=%ld mode=%o nlink=%ld isreg=%d\n", (long)st.st_size, st.st_mode & 07777,
         (long)st.st_nlink, S_ISREG(st.st_mode));
  char buf[256];
  memset(buf, '?', sizeof buf);
  CHECK(pread(fd, buf, 5, 6) == 5);
  printf("pread=%.5s\n", buf);
  CHECK(pread(fd, buf, 4, 50) == 4);
  printf("hole bytes=%d %d %d %d\n", buf[0], buf[1], buf[2], buf[3]);
  CHECK(pwrite(fd, "HELLO", 5, 0) == 5);
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  ssize_t r = read(fd, buf, 11);
  printf("read %zd: %.11s", r, buf);
  printf("read at eof=%zd\n", (lseek(fd, 0, SEEK_END), read(fd, buf, 10)));
  CHECK(ftruncate(fd, 3) == 0);
  CHECK(fstat(fd, &st) == 0);
  printf("after ftruncate size=%ld\n", (long)st.st_size);

  int fd2 = dup(fd);
  CHECK(fd2 > fd);
  CHECK(lseek(fd2, 1, SEEK_SET) == 1);
  printf("dup shares offset: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
  CHECK(dup2(fd, 20) == 20);
  printf("fcntl F_GETFD(20)=%d\n", fcntl(20, F_GETFD));
  CHECK(fcntl(20, F_SETFD, FD_CLOEXEC) == 0);
  printf("fcntl F_GETFD(20) after=%d\n", fcntl(20, F_GETFD));
  printf("fcntl F_GETFL accmode=%d\n", fcntl(fd, F_GETFL) & O_ACCMODE);
  int fd3 = fcntl(fd, F_DUPFD, 30);
  printf("F_DUPFD>=30: %d\n", fd3);
  close(fd3);
  close(20);
  close(fd2);
  close(fd);

  struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
  fd = open("v.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  printf("writev=%zd\n", writev(fd, iov, 3));
  close(fd);
  char b1[5] = {0}, b2[20] = {0};
  struct iovec riov[2] = {{b1, 4}, {b2, 19}};
  fd = open("v.txt", O_RDONLY);
  printf("readv=%zd [%s][%s]", readv(fd, riov, 2), b1, b2);
  close(fd);

  /* errors */
  errno = 0;
  printf("open missing: %d errno=%s\n", open("missing", O_RDONLY), strerror(errno));
  errno = 0;
  printf("open excl existing: %d errno=%s\n", open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0600),
         strerror(errno));
  errno = 0;
  printf("read bad fd: %zd errno=%s\n", read(99, buf, 1), strerror(errno));
  errno = 0;
  printf("rmdir non-empty parent: %d errno=%s\n", rmdir("."), strerror(errno));
  printf("access a.txt R_OK=%d X_OK=%d\n", access("a.txt", R_OK), access("a.txt", X_OK) == 0);

  /* directories, links, rename */
  CHECK(mkdir("sub", 0755) == 0);
  errno = 0;
  printf("mkdir again: %d errno=%s\n", mkdir("sub", 0755), strerror(errno));
  CHECK(rename("v.txt", "sub/w.txt") == 0);
  CHECK(link("a.txt", "hard") == 0);
  CHECK(symlink("a.txt", "soft") == 0);
  CHECK(stat("a.txt", &st) == 0);
  printf("nlink after link=%ld\n", (long)st.st_nlink);
  memset(buf, 0, sizeof buf);
  printf("readlink soft=%zd %s\n", readlink("soft", buf, sizeof buf - 1), buf);
  CHECK(lstat("soft", &st) == 0);
  printf("lstat soft islnk=%d\n", S_ISLNK(st.st_mode));
  CHECK(stat("soft", &st) == 0);
  printf("stat soft size=%ld\n", (long)st.st_size);
  int dfd = open("sub", O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  CHECK(fstatat(dfd, "w.txt", &st, 0) == 0);
  printf("fstatat sub/w.txt size=%ld\n", (long)st.st_size);
  int f4 = openat(dfd, "new", O_CREAT | O_WRONLY, 0644);
  CHECK(f4 >= 0);
  close(f4);
  close(dfd);
  list_dir(".");
  list_dir("sub");
  CHECK(unlink("sub/w.txt") == 0);
  CHECK(unlink("sub/new") == 0);
  CHECK(rmdir("sub") == 0);
  CHECK(unlink("hard") == 0);
  CHECK(unlink("soft") == 0);
  CHECK(unlink("a.txt") == 0);
  list_dir(".");
  char cwd[4096];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK(strcmp(cwd, argv[1]) == 0 || argv[1][0] != '/');
  return test_exit();
}
