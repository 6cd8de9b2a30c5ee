/*
 * gzschema.h: a Galaxy Zoo decision tree as data: questions, their answers, and the
 * answer each question depends on ("asked if"). The built-in tree is Galaxy Zoo DECaLS
 * (10 questions, 34 answers); other trees (GZ2, DESI) load from a text file:
 *
 *   # comment
 *   smooth-or-featured: smooth, featured-or-disk, artifact
 *   disk-edge-on: yes, no | smooth-or-featured_featured-or-disk
 *
 * one question per line: name, ':', comma-separated answers, optionally '|' and the
 * column name of the answer that makes the question asked (omitted: always asked). A
 * dependency must name an answer of an earlier line.
 *
 * Answers are numbered globally in file order (0 .. nanswers-1), so a model head of
 * nanswers outputs and the vote columns `<question>_<answer>` line up. This module
 * knows nothing of images, votes files or losses.
 */
#ifndef ZOOMORPH_GZSCHEMA_H
#define ZOOMORPH_GZSCHEMA_H

#include "zoomorph/error.h"

#define ZM_GZ_NAME_LEN 48
#define ZM_GZ_COL_LEN 96

typedef struct {
    char name[ZM_GZ_NAME_LEN];
    int first;     /* global index of its first answer               */
    int nanswers;
    int parent;    /* global answer index it depends on; -1: always  */
} zm_gz_question;

typedef struct {
    int nquestions, nanswers;
    zm_gz_question *q;
    char (*answer)[ZM_GZ_NAME_LEN];  /* answer names, global index   */
    int *question_of;                /* question index of each answer */
} zm_gz_schema;

/* The built-in Galaxy Zoo DECaLS tree. */
int zm_gz_schema_decals(zm_gz_schema *s, zm_err *err);
/* Parses the text format above; what names the source for messages. */
int zm_gz_schema_parse(zm_gz_schema *s, const char *text, const char *what, zm_err *err);
int zm_gz_schema_load(zm_gz_schema *s, const char *path, zm_err *err);
void zm_gz_schema_free(zm_gz_schema *s);

/* Question index by name, or -1. */
int zm_gz_question_find(const zm_gz_schema *s, const char *name);
/* Global answer index of "<question>_<answer>", or -1. */
int zm_gz_answer_find(const zm_gz_schema *s, const char *column);
/* "<question>_<answer>" of global answer a into buf (ZM_GZ_COL_LEN). */
void zm_gz_answer_column(const zm_gz_schema *s, int a, char *buf);
/* Depth of a question in the tree (0 for always-asked questions). */
int zm_gz_question_depth(const zm_gz_schema *s, int q);

#endif
