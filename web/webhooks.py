"""Routes of this blueprint are added in their own change."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
