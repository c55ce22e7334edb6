/*
 * aws_env.h - for the unit tests that start the AWS provider: no AWS
 * credentials in the environment or the shared files, the instance role
 * not turned off by the environment, and every endpoint on loopback
 * (port 9, refused), so that a test gone wrong sends nothing off the
 * machine. Header only.
 */
#ifndef DROVER_TEST_AWS_ENV_H
#define DROVER_TEST_AWS_ENV_H

#include <stdlib.h>

static inline void aws_env_none(void)
{
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  unsetenv("AWS_EC2_METADATA_DISABLED");
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
  setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
  setenv("DROVER_EC2_ENDPOINT", "http://127.0.0.1:9", 1);
}

#endif /* DROVER_TEST_AWS_ENV_H */
