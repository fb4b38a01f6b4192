/* SPDX-License-Identifier: Apache-2.0 */
/* Small open-addressing hash sets used while walking and applying layers. */
#include <string.h>
#include "layer-internal.h"

static uint64_t hash_str(const char *s)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return h;
}

static size_t strset_find(char **slots, size_t cap, const char *str)
{
        size_t i = (size_t)hash_str(str) & (cap - 1);
        while (slots[i] && strcmp(slots[i], str))
                i = (i + 1) & (cap - 1);
        return i;
}

bool strset_has(const struct strset *s, const char *str)
{
        if (!s->cap)
                return false;
        return s->slots[strset_find(s->slots, s->cap, str)] != NULL;
}

bool strset_add(struct strset *s, const char *str)
{
        if ((s->n + 1) * 2 > s->cap) {
                size_t ncap = s->cap ? s->cap * 2 : 64;
                char **ns = kiln_xcalloc(ncap, sizeof(char *));
                for (size_t i = 0; i < s->cap; i++)
                        if (s->slots[i])
                                ns[strset_find(ns, ncap, s->slots[i])] = s->slots[i];
                free(s->slots);
                s->slots = ns;
                s->cap = ncap;
        }
        size_t i = strset_find(s->slots, s->cap, str);
        if (s->slots[i])
                return false;
        s->slots[i] = kiln_xstrdup(str);
        s->n++;
        return true;
}

void strset_free(struct strset *s)
{
        for (size_t i = 0; i < s->cap; i++)
                free(s->slots[i]);
        free(s->slots);
        *s = (struct strset){ 0 };
}

static size_t ino_find(struct inomap_slot *slots, size_t cap, dev_t dev, ino_t ino)
{
        uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)dev;
        size_t i = (size_t)h & (cap - 1);
        while (slots[i].path && !(slots[i].dev == dev && slots[i].ino == ino))
                i = (i + 1) & (cap - 1);
        return i;
}

const char *inomap_get(const struct inomap *m, dev_t dev, ino_t ino)
{
        if (!m->cap)
                return NULL;
        return m->slots[ino_find(m->slots, m->cap, dev, ino)].path;
}

void inomap_put(struct inomap *m, dev_t dev, ino_t ino, const char *path)
{
        if ((m->n + 1) * 2 > m->cap) {
                size_t ncap = m->cap ? m->cap * 2 : 64;
                struct inomap_slot *ns = kiln_xcalloc(ncap, sizeof(*ns));
                for (size_t i = 0; i < m->cap; i++)
                        if (m->slots[i].path)
                                ns[ino_find(ns, ncap, m->slots[i].dev, m->slots[i].ino)] = m->slots[i];
                free(m->slots);
                m->slots = ns;
                m->cap = ncap;
        }
        size_t i = ino_find(m->slots, m->cap, dev, ino);
        if (m->slots[i].path)
                return;
        m->slots[i] = (struct inomap_slot){ dev, ino, kiln_xstrdup(path) };
        m->n++;
}

void inomap_free(struct inomap *m)
{
        for (size_t i = 0; i < m->cap; i++)
                free(m->slots[i].path);
        free(m->slots);
        *m = (struct inomap){ 0 };
}

bool layer_xattr_is_overlay(const char *name)
{
        return kiln_startswith(name, "trusted.overlay.") || kiln_startswith(name, "user.overlay.");
}
