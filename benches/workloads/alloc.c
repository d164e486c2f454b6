/* heron guest workload "alloc": malloc/free heavy. Builds and frees many binary trees
 * of varying depth (the binary-trees pattern) and linked lists of variably sized nodes,
 * checking each structure as it goes.
 * Usage: alloc [N]   (N = rounds, default 40). Prints node counts and a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tree { struct tree *left, *right; uint32_t val; };

static struct tree *make(int depth, uint32_t val) {
    struct tree *t = malloc(sizeof *t);
    if (!t) { fputs("alloc: out of memory\n", stderr); exit(1); }
    t->val = val;
    if (depth > 0) {
        t->left = make(depth - 1, 2 * val);
        t->right = make(depth - 1, 2 * val + 1);
    } else {
        t->left = t->right = NULL;
    }
    return t;
}

static uint64_t check(const struct tree *t) {
    if (!t->left)
        return t->val;
    return t->val + 3 * check(t->left) - check(t->right);
}

static void drop(struct tree *t) {
    if (t->left) {
        drop(t->left);
        drop(t->right);
    }
    free(t);
}

struct node { struct node *next; size_t len; unsigned char data[]; };

int main(int argc, char **argv) {
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 40;
    uint64_t sum = 0, nodes = 0;
    uint32_t rng = 1;
    /* One long-lived tree keeps the heap non-trivial while the others come and go. */
    struct tree *keep = make(14, 1);
    for (long r = 0; r < rounds; r++) {
        for (int depth = 4; depth <= 16; depth += 2) {
            int count = 1 << (16 - depth);
            for (int i = 0; i < count; i++) {
                struct tree *t = make(depth, (uint32_t)(i + r));
                sum += check(t);
                nodes += ((uint64_t)2 << depth) - 1;
                drop(t);
            }
        }
        struct node *head = NULL;
        for (int i = 0; i < 20000; i++) {
            rng = rng * 1664525u + 1013904223u;
            size_t len = (rng >> 8) % 200;
            struct node *n = malloc(sizeof *n + len);
            if (!n) { fputs("alloc: out of memory\n", stderr); return 1; }
            n->len = len;
            memset(n->data, (int)(rng >> 24), len);
            n->next = head;
            head = n;
            /* Free every third node right away, out of allocation order. */
            if (i % 3 == 2) {
                struct node *victim = head->next;
                head->next = victim->next;
                sum += victim->len;
                free(victim);
            }
        }
        while (head) {
            struct node *n = head;
            head = n->next;
            sum = sum * 31 + (n->len ? n->data[n->len - 1] : 0) + n->len;
            free(n);
            nodes++;
        }
    }
    sum += check(keep);
    drop(keep);
    printf("alloc rounds=%ld nodes=%llu checksum=%016llx\n", rounds,
           (unsigned long long)nodes, (unsigned long long)sum);
    return 0;
}
