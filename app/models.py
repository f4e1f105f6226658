"""Import every feature's models, so that migrations and ``create_all`` see the whole schema."""

from app import mail as mail_models  # noqa: F401  (the development mail catcher's table)
from app.accounts import models as accounts_models  # noqa: F401
from app.activity import models as activity_models  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.billing import models as billing_models  # noqa: F401
from app.payments import models as payments_models  # noqa: F401
