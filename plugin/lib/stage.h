/*
 * stage.h - scratch space for one backup archive on disk: a directory
 * drover-stage-<host>-XXXXXX (0700) under the staging directory, with a
 * lock file flocked for as long as the stage is open. Internal; not
 * installed.
 *
 * An archive is as big as the instance, and a backup job killed with one
 * staged (kill -9, a Slurm time limit) never reaches its cleanup. The
 * kernel drops the flock with the process, so the next stage opened in
 * the same directory finds such leftovers unlocked and removes them; a
 * stage another process still holds keeps its lock and is left alone.
 * On a staging directory that nodes share, only this host's are swept.
 */
#ifndef DROVER_STAGE_H
#define DROVER_STAGE_H

#include <stddef.h>
#include "drover.h"

typedef struct dv_stage {
  char *dir;    /* the stage's directory; NULL when not open */
  char *path;   /* <dir>/archive: where the archive is written */
  int lock;     /* fd of <dir>/lock, flocked; meaningful only while dir */
} dv_stage;

/* Removes the leftovers of dead processes under parent, then makes a new
 * stage there. *swept (may be NULL) is how many leftovers were removed.
 * On success s owns the directory: dv_stage_close removes it. */
drover_code dv_stage_open(dv_stage *s, const char *parent, size_t *swept,
                          drover_error *err);

/* Removes the stage's directory and what was written in it (the archive,
 * a download's part files), then drops the lock. A stage that is not open
 * (zeroed, or closed already) is left as it is. */
void dv_stage_close(dv_stage *s);

/* Removes the stages under parent whose lock no process holds, and
 * returns how many. Only directories of this user are looked at; nothing
 * is followed through a symbolic link. */
size_t dv_stage_sweep(const char *parent);

#endif /* DROVER_STAGE_H */
