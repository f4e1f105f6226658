"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``. The only module-level app."""

from dotenv import load_dotenv

load_dotenv()

from app import create_app  # noqa: E402

app = create_app()
