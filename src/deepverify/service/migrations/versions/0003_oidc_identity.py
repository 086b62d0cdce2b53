"""OIDC identities keyed by (issuer, subject) only: e-mails unique among local accounts alone.

Two subjects of one issuer may claim the same e-mail (unverified addresses, reused ones); the
old unique (provider, email) index made every request of the second one fail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCAL = sa.text("provider = 'local'")


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("uq_users_provider_email", table_name="users")
    op.create_index(
        "uq_users_local_email",
        "users",
        ["email"],
        unique=True,
        sqlite_where=_LOCAL,
        postgresql_where=_LOCAL,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_users_local_email", table_name="users")
    op.create_index("uq_users_provider_email", "users", ["provider", "email"], unique=True)
