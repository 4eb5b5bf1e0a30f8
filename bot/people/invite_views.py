"""The /invites screen: open invites, each with its Revoke button, a page at a time.

Callback data:
  adm:invs:<page>            the list, page (0-based)
  adm:invrev:<key>:<page>    revoke the invite with that key (roles.invite_key), then
                             show that page again
"""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.people import audit
from bot.people.identity import INVITES_PAGE, InvitePage, OpenInvite
from bot.ui import screens as views
from bot.ui.callbacks import cb
from bot.ui.deeplinks import share_url
from bot.ui.i18n import bracketed, format_time, t
from bot.ui.screens import Screen, button, pager
from storage.models import Invite

NAME_CHARS = 40  # a creator's name in a line; the list must fit one message


def invite_line(lang: str, n: int, invite: OpenInvite, tz: ZoneInfo) -> str:
    name = audit.person_name(invite.creator)
    if len(name) > NAME_CHARS:
        name = name[: NAME_CHARS - 1].rstrip() + "…"
    creator = bracketed(lang, name, invite.created_by) if name else str(invite.created_by)
    return t(
        lang,
        "invites.item",
        n=n,
        hint=escape(invite.hint),
        role=escape(views.role_name(lang, invite.role)),
        creator=escape(creator),
        expires=format_time(invite.expires_at, lang, tz),
    )


def invites_screen(lang: str, page: InvitePage, tz: ZoneInfo, notice: str = "") -> Screen:
    """`notice` (already HTML) goes above the list, e.g. what was just revoked."""
    head = f"{notice}\n\n" if notice else ""
    if not page.invites:
        return Screen(head + t(lang, "invites.none"), _menu_only(lang))
    start = page.page * INVITES_PAGE + 1
    lines = [t(lang, "invites.title", total=page.total)]
    lines += [invite_line(lang, start + i, inv, tz) for i, inv in enumerate(page.invites)]
    if page.pages > 1:
        lines.append(t(lang, "invites.page", page=page.page + 1, pages=page.pages))
    rows = [
        [
            InlineKeyboardButton(
                t(lang, "btn.invite_revoke", n=start + i, hint=inv.hint),
                callback_data=cb("adm", "invrev", inv.key, page.page),
            )
        ]
        for i, inv in enumerate(page.invites)
    ]
    rows += pager(
        lang,
        cb("adm", "invs", page.page - 1) if page.page > 0 else None,
        cb("adm", "invs", page.page + 1) if page.page < page.pages - 1 else None,
    )
    rows.append([button(lang, "btn.menu", cb("m", "menu"))])
    return Screen(head + "\n".join(lines), InlineKeyboardMarkup(rows))


def _menu_only(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[button(lang, "btn.menu", cb("m", "menu"))]])


def created(lang: str, invite: Invite, url: str, tz: ZoneInfo) -> Screen:
    """The new link, and Telegram's share screen for it: the admin picks the colleague's
    chat and it goes from their own account, with a line saying what it is."""
    text = t(
        lang,
        "invite.created",
        role=escape(views.role_name(lang, invite.role)),
        expires=format_time(invite.expires_at, lang, tz),
        link=escape(url),
    )
    share = InlineKeyboardButton(
        t(lang, "invite.share"), url=share_url(url, t(lang, "invite.share_text"))
    )
    return Screen(text, InlineKeyboardMarkup([[share]]))
