/*
 * spank_int.h - internals of the drover SPANK plugin (drover.so).
 *
 * Split so the parts that judge untrusted input (options.c), read the
 * admin's configuration (config.c) and move outputs into the job
 * (outputs.c) build and test without Slurm: tests/check_spank.c links
 * them directly. Only drover_spank.c includes <slurm/spank.h>.
 * Cross-file names use the dvs_ prefix; nothing here is exported from
 * the .so (see -export-symbols-regex in Makefile.include).
 *
 * Two objects are built from these files (see spank_engine.h): drover.so,
 * the shim Slurm loads (options.c, config.c and the libc-only part of
 * outputs.c: no jansson, no libdrover), and drover_spank_engine.so, which
 * the shim dlopen()s only for jobs that asked for --drover.
 */
#ifndef DROVER_SPANK_INT_H
#define DROVER_SPANK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "drover.h"
#include "trust.h"

/* --------------------------------------------------------------------------
 * The user's request: --drover=NAME[:key=value[,key=value]...]
 */

#define DVS_NAME_MAX 32        /* template name length */
#define DVS_KEY_MAX 63         /* param name length: [a-z_][a-z0-9_]{0,62} */
#define DVS_VALUE_MAX 256      /* param value length */
#define DVS_PARAMS_MAX 32      /* params per request */
#define DVS_REQUEST_MAX 4096   /* the whole option value */
#define DVS_STACK_MAX DROVER_JOB_STACK_MAX /* stack names: ^[a-z][a-z0-9-]{0,39}$ */

typedef struct dvs_param {
  char key[DVS_KEY_MAX + 1];
  char value[DVS_VALUE_MAX + 1];
} dvs_param;

typedef struct dvs_request {
  char name[DVS_NAME_MAX + 1];
  size_t nparams;
  dvs_param params[DVS_PARAMS_MAX];
} dvs_request;

/*
 * Parses and checks the syntax of one option value. Pure: no I/O, no
 * allocation, safe in any context. Returns 0, or -1 with a one-line
 * message for the user in errbuf ("drover: ..."). The message quotes at
 * most a short, sanitised piece of the input.
 */
int dvs_request_parse(dvs_request *out, const char *arg, char *errbuf, size_t errlen);

/* The plugin's checks report a refusal with dv_trust_fail (trust.h). */

/* Character classes, exposed for the tests. */
int dvs_name_valid(const char *name);
int dvs_key_valid(const char *key);
/* 0 if valid, else the 1-based position of the first bad byte (or
 * DVS_VALUE_MAX + 1 when too long). */
size_t dvs_value_check(const char *value);

/*
 * The stack name for a job: "job-<jobid>-<name>", '_' mapped to '-'.
 * When that is longer than DVS_STACK_MAX, the name part is cut and an
 * 8-hex-digit hash of the full name appended, so the result is
 * deterministic (the epilog recomputes it) and still unique per job.
 * Returns 0, or -1 if buf is too small (needs DVS_STACK_MAX + 1).
 */
int dvs_stack_name(char *buf, size_t size, uint32_t jobid, const char *name);

/* Parses "job-<digits>-..." and stores the job id. Returns 0, or -1 if
 * the name is not a job stack. */
int dvs_stack_jobid(const char *stack, uint32_t *jobid);

/* --------------------------------------------------------------------------
 * Plugstack arguments and the admin files
 */

typedef enum {
  DVS_EPILOG_DESTROY = 0,  /* the epilog destroys the job's stack */
  DVS_EPILOG_SKIP = 1      /* leave it to `drover gc` (tests, or gc-only sites) */
} dvs_epilog_mode;

typedef struct dvs_config {
  char template_dir[512];    /* "" : the plugin refuses every request */
  char provider_config[512]; /* "" : none */
  char outputs_dir[512];     /* default /run/drover-jobs */
  char lock_dir[512];        /* "" : the engine's default */
  char engine[512];          /* "" : DVS_ENGINE_FILE next to drover.so */
  char provider_dir[512];    /* "" : only $(pkglibdir)/providers */
  long max_instances_per_job;  /* 0: unlimited */
  long max_instances_per_user; /* 0: unlimited */
  int allow_keep;            /* default 0 */
  dvs_epilog_mode epilog;
  drover_log_level log_level;  /* default info */
  double apply_timeout;      /* seconds per cloud operation; 0: engine default */
  double lock_wait;          /* seconds to wait for a stack lock; default 60 */
  unsigned epilog_retries;   /* destroy attempts in the epilog; default 3 */
} dvs_config;

/* Sets the defaults. */
void dvs_config_init(dvs_config *cfg);

/*
 * Parses the plugstack.conf arguments (argv[0..argc-1], "key=value").
 * Unknown keys and bad values are errors: an admin typo must not
 * silently turn a limit off. Returns 0, or -1 with a message.
 */
int dvs_config_parse(dvs_config *cfg, int argc, char *const argv[], char *errbuf,
                     size_t errlen);

/*
 * Checks that path and every directory above it are owned by root and not
 * group/world writable, and that path itself is a directory and not a
 * symlink. Returns an open O_DIRECTORY fd (caller closes), or -1 with a
 * message. want_uid is the owner required (0 outside the tests).
 */
int dvs_open_trusted_dir(const char *path, uid_t want_uid, char *errbuf, size_t errlen);

/*
 * Opens a regular file (not a symlink) owned by want_uid and not
 * group/world writable, in a directory chain dvs_open_trusted_dir would
 * accept. The shim checks the engine module with it before dlopen().
 * Returns an fd (caller closes) or -1 with a message.
 */
int dvs_open_trusted_file(const char *path, uid_t want_uid, char *errbuf, size_t errlen);

/*
 * Opens <name>.json in the trusted template directory dirfd: no symlinks
 * (O_NOFOLLOW), a regular file owned by want_uid, not group/world
 * writable. name must already have passed dvs_name_valid. Returns an fd
 * (caller closes) or -1 with a message (ENOENT is "no such template").
 */
int dvs_open_template(int dirfd, const char *name, uid_t want_uid, char *errbuf,
                      size_t errlen);

/*
 * Opens the provider config file (credentials): regular, not a symlink,
 * owned by want_uid, mode 0600 or stricter, in a trusted directory.
 * Returns an fd (caller closes) or -1 with a message.
 */
int dvs_open_secret_file(const char *path, uid_t want_uid, char *errbuf, size_t errlen);

/*
 * Reads the whole of fd (at most max bytes) into a NUL-terminated buffer.
 * *out is owned by the caller: free(). Returns 0, or -1 with a message.
 */
int dvs_read_fd(char **out, size_t *len, int fd, size_t max, char *errbuf,
                size_t errlen);

/* --------------------------------------------------------------------------
 * Outputs: file written by the prolog, read into the tasks' environment
 */

#define DVS_ENV_PREFIX "DROVER_"
#define DVS_ENV_OUTPUTS_FILE "DROVER_OUTPUTS_FILE"

/*
 * The environment variable for output name: DROVER_ + name upper-cased,
 * every byte outside [A-Z0-9_] made '_'. Returns 0, or -1 if it would not
 * fit or would collide with DROVER_OUTPUTS_FILE (the output is skipped).
 */
int dvs_output_env_name(char *buf, size_t size, const char *output);

/* The two below use jansson: not built into the shim (DVS_NO_JANSSON). */
/*
 * The text value for an output's JSON value (jansson json_t *, passed as
 * void * to keep jansson out of this header): a string as is; an array of
 * strings without whitespace joined by single spaces; anything else as
 * compact JSON. *out is owned by the caller: free(). Returns 0 or -1.
 */
int dvs_output_env_value(char **out, const void *json_value);

/*
 * Writes content to <dir>/<jobid>/<file> for the job's user: the job
 * directory is created 0700, the file 0600, both owned by uid:gid. Safe
 * against a user who owns the job directory from an earlier run: the file
 * is written under a fresh O_EXCL name and renamed over. Returns 0, or -1
 * with a message. Runs as root (job_prolog).
 */
int dvs_job_file_write(const char *dir, uint32_t jobid, const char *file,
                       const char *content, uid_t uid, gid_t gid, char *errbuf,
                       size_t errlen);

/* Removes <dir>/<jobid>/ and the plain files in it (never following links).
 * Returns 0, or -1 with a message. Missing is fine. */
int dvs_job_dir_remove(const char *dir, uint32_t jobid, char *errbuf, size_t errlen);

/* Path of <dir>/<jobid>/<file> into buf. Returns 0 or -1 if it does not fit. */
int dvs_job_file_path(char *buf, size_t size, const char *dir, uint32_t jobid,
                      const char *file);

#define DVS_OUTPUTS_FILE "outputs.json"
#define DVS_ERROR_FILE "error"

/* Counts the entries of a drover_stack_show_json() array whose type ends
 * in ".instance". Returns the count, or -1 if the text is not an array. */
long dvs_count_instances_json(const char *show_json);

#endif /* DROVER_SPANK_INT_H */
