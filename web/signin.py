"""Routes of this blueprint are added in their own change."""

from flask import Blueprint

bp = Blueprint("signin", __name__)
