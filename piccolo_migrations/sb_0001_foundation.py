"""Foundation: companies, users, departments, memberships, sessions, login failures."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "foundation tables"

SQL = """
CREATE TABLE company (
    id serial PRIMARY KEY,
    name varchar(200) NOT NULL,
    timezone varchar(64) NOT NULL DEFAULT 'UTC',
    language varchar(8) NOT NULL DEFAULT 'en',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_user (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    email varchar(254) NOT NULL,
    name varchar(120) NOT NULL,
    password_hash text NOT NULL,
    role varchar(16) NOT NULL DEFAULT 'agent'
        CHECK (role IN ('admin', 'supervisor', 'agent')),
    presence varchar(16) NOT NULL DEFAULT 'offline'
        CHECK (presence IN ('online', 'busy', 'offline')),
    presence_changed_at timestamptz NOT NULL DEFAULT now(),
    active boolean NOT NULL DEFAULT true,
    capacity integer NOT NULL DEFAULT 5 CHECK (capacity BETWEEN 0 AND 1000),
    language varchar(8) NOT NULL DEFAULT '',
    last_seen_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- One login per e-mail address across the platform: login does not ask for a company.
CREATE UNIQUE INDEX app_user_email_key ON app_user (lower(email));
CREATE INDEX app_user_company_idx ON app_user (company_id, role);

CREATE TABLE department (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    code varchar(32) NOT NULL,
    colour varchar(7) NOT NULL DEFAULT '#4f46e5',
    response_timeout integer NOT NULL DEFAULT 300 CHECK (response_timeout BETWEEN 10 AND 86400),
    menu_position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX department_code_key ON department (company_id, lower(code));
CREATE UNIQUE INDEX department_name_key ON department (company_id, lower(name));

CREATE TABLE user_department (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    department_id integer NOT NULL REFERENCES department(id) ON DELETE CASCADE,
    UNIQUE (user_id, department_id)
);
CREATE INDEX user_department_department_idx ON user_department (department_id);

CREATE TABLE http_session (
    key varchar(128) PRIMARY KEY,
    data bytea NOT NULL,
    expires_at timestamptz
);
CREATE INDEX http_session_expires_idx ON http_session (expires_at);

CREATE TABLE login_failure (
    id bigserial PRIMARY KEY,
    scope varchar(16) NOT NULL,
    key varchar(254) NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failure_key_idx ON login_failure (scope, key, at);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
