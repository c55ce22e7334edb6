/*
 * aws_ini.h - the AWS shared credentials and config files (INI), read for
 * the AWS providers (S3, EC2). Shared by them; the engine never includes it.
 */
#ifndef DROVER_AWS_INI_H
#define DROVER_AWS_INI_H

/* Reads profile's aws_access_key_id, aws_secret_access_key and
 * aws_session_token from the INI file at path into *akid, *secret, *token
 * (each replaced only when the file sets it; the old value is wiped; the
 * caller frees with aws_wipe_free). In a config file (config_style) a
 * profile's section is "[profile NAME]", but "[default]". Sets *found
 * (may be NULL) when the profile's section exists. Returns 1 when the file
 * was read, 0 when it cannot be opened, -1 on allocation failure. The line
 * buffer is wiped before return. */
int aws_ini_read(const char *path, const char *profile, int config_style, char **akid,
                 char **secret, char **token, int *found);

/* The path of the shared credentials file (credentials: 1) or the config
 * file (0): $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
 * $AWS_CONFIG_FILE or ~/.aws/config. Caller frees; NULL without HOME or
 * on allocation failure. */
char *aws_ini_path(int credentials);

/* Wipes and frees a secret string; NULL is a no-op. */
void aws_wipe_free(char *s);

#endif
