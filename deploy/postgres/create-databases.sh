#!/bin/sh
# Creates the Dagster, MLflow and Feast databases, each owned by POSTGRES_USER. Run once by
# the postgres image on an empty volume (/docker-entrypoint-initdb.d); the integration tests
# run the same script against their own server. psql takes PGHOST/PGPORT from the environment.
set -eu
for database in "$ACCOUNT_HEALTH_DAGSTER_DATABASE" "$ACCOUNT_HEALTH_MLFLOW_DATABASE" \
                "$ACCOUNT_HEALTH_FEAST_DATABASE"; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
         -c "CREATE DATABASE \"$database\" OWNER \"$POSTGRES_USER\""
done
