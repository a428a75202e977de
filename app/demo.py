"""The demo company: an admin, a supervisor, two agents, two departments, a Sandbox channel and
a few quick replies.

Running it again keeps what exists and resets the demo passwords, so the printed logins
always work.
"""

from __future__ import annotations

from app.domain import sql
from app.domain.channels import ensure_sandbox_channel
from app.domain.companies import create_company, find_company
from app.domain.departments import create_department, list_departments
from app.domain.passwords import hash_password
from app.domain.quick_replies import create_quick_reply
from app.domain.users import create_user

DEMO_COMPANY = "Demo Company"
DEMO_PASSWORD = "demo-harbour-lantern"  # passes the password policy (12+ characters, zxcvbn 3)

DEPARTMENTS = [
    {"name": "Sales", "code": "SALES", "colour": "#2563eb", "response_timeout": 300, "menu_position": 1},
    {"name": "Support", "code": "SUPPORT", "colour": "#16a34a", "response_timeout": 180, "menu_position": 2},
]
QUICK_REPLIES = [
    ("hello", "Hello! Thank you for writing to us. How can I help you today?"),
    ("wait", "Thank you for your patience: I am checking this for you and will be back in a few minutes."),
    ("bye", "Thank you for contacting us. Have a good day!"),
]
USERS = [
    ("admin", "Alice Admin", "admin@demo.switchboard.test", []),
    ("supervisor", "Sam Supervisor", "supervisor@demo.switchboard.test", ["SALES", "SUPPORT"]),
    ("agent", "Anna Agent", "anna@demo.switchboard.test", ["SALES", "SUPPORT"]),
    ("agent", "Bruno Agent", "bruno@demo.switchboard.test", ["SUPPORT"]),
]


async def seed_demo() -> list[tuple[str, str]]:
    company = await find_company(DEMO_COMPANY) or await create_company(DEMO_COMPANY)
    existing = {d.code for d in await list_departments(company.id)}
    for dep in DEPARTMENTS:
        if dep["code"] not in existing:
            await create_department(company.id, dep)
    codes = {d.code: d.id for d in await list_departments(company.id)}
    password_hash = await hash_password(DEMO_PASSWORD)
    for role, name, email, departments in USERS:
        found = await sql.fetchval("SELECT id FROM app_user WHERE lower(email) = $1", email)
        if found is None:
            await create_user(
                company.id,
                {
                    "name": name,
                    "email": email,
                    "role": role,
                    "password": DEMO_PASSWORD,
                    "capacity": 5,
                    "department_ids": [codes[c] for c in departments],
                },
            )
        else:
            await sql.execute(
                "UPDATE app_user SET password_hash = $2, active = true WHERE id = $1", found, password_hash
            )
    # A Sandbox channel, so the simulator works at once with no provider account.
    await ensure_sandbox_channel(company.id)
    # Quick replies for every department (type "/" in the composer).
    if not await sql.fetchval("SELECT 1 FROM quick_reply WHERE company_id = $1", company.id):
        for shortcut, text in QUICK_REPLIES:
            await create_quick_reply(company.id, {"shortcut": shortcut, "text": text})
    return [(role, email) for role, _, email, _ in USERS]
