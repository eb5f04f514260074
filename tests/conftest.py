"""Suite-wide settings: structlog quiet (warnings and up, on stderr) unless a test captures logs."""

from firstline.logging import configure_logging

configure_logging(0)
