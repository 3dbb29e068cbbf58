/* The whole application: a static binary needs no shell, no libc and no
 * package manager in its image. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *who = argc > 1 ? argv[1] : "world";
    printf("Hello, %s! (pid %ld, uid %ld, from a one-file image)\n", who, (long)getpid(), (long)getuid());
    return 0;
}
