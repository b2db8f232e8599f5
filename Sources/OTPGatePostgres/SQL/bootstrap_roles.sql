-- bootstrap_roles: the roles and the database otpgate needs, made once per cluster by
-- a superuser (or a role with CREATEROLE and CREATEDB). Not a migration: roles
-- belong to the cluster, not to the database, and the migrations run as
-- otpgate_owner, which cannot make them. Safe to run again (it skips what exists).
--
--   psql -v ON_ERROR_STOP=1 -f bootstrap_roles.sql postgres
--   psql -c "ALTER ROLE otpgate_owner PASSWORD '...'" postgres   (or certificate auth)
--   psql -d otpgate -f v001_schema.sql ...   (the migration runner does this)
--
-- otpgate_owner  owns the schema, the tables and the functions; applies migrations.
--                Logs in only to migrate: keep its credentials like root's.
-- otpgate_node   group role of the verifier tier's nodes: EXECUTE on the node
--                functions, nothing else. Each node logs in as its own member role
--                (CREATE ROLE node_a LOGIN IN ROLE otpgate_node), which audit rows name.
-- otpgate_admin  group role for admin operations (reset, unlock, list, audit query,
--                import, rekey, limiter policy, audit retention).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'otpgate_owner') THEN
        CREATE ROLE otpgate_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'otpgate_node') THEN
        CREATE ROLE otpgate_node NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'otpgate_admin') THEN
        CREATE ROLE otpgate_admin NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
END
$$;

SELECT 'CREATE DATABASE otpgate OWNER otpgate_owner'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'otpgate') \gexec

REVOKE ALL ON DATABASE otpgate FROM PUBLIC;
GRANT CONNECT ON DATABASE otpgate TO otpgate_node, otpgate_admin;
