"""Alert e-mails to ``STRIPE_ADMINS`` over SMTP, with the ``MAIL_*`` settings."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage

from ..config import BillingConfig


def mail_admins(config: BillingConfig, subject: str, body: str) -> bool:
    """Send *body* to every address in ``STRIPE_ADMINS``; return ``False`` when there is nobody to tell.

    The subject starts with ``[ENV_PREFIX]`` when one is set, so alerts from staging and production differ.
    :raises OSError: (``smtplib.SMTPException`` included) when the SMTP server refuses or cannot be reached.
    """
    if not config.admins:
        return False
    mail = config.mail
    message = EmailMessage()
    message["Subject"] = f"[{config.env_prefix}] {subject}" if config.env_prefix else subject
    message["From"] = mail.default_sender or f"flask-stripe-billing@{socket.getfqdn()}"
    message["To"] = ", ".join(config.admins)
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
    with smtp_class(mail.server, mail.port, timeout=30) as smtp:
        if mail.use_tls and not mail.use_ssl:
            smtp.starttls()
        if mail.username:
            smtp.login(mail.username, mail.password or "")
        smtp.send_message(message)
    return True
