// The Mini App page: the staff's inquiry board and charts, the contacts' catalogue.
//
// Plain JavaScript, no framework and no build step. Every word on the page comes from
// /api/me's `texts` (catalog keys web.*, bot/locales/*/webapp_page.po); data is inserted
// with textContent only, never as HTML. Every API call carries the initData Telegram gave
// the page; a 401 leaves one sentence on the page and nothing else.
"use strict";

(() => {
  // Shown when the very first call is refused, before any texts arrive: the catalogs'
  // web.reopen in both languages (tests/test_miniapp_page.py checks they agree).
  const REOPEN = {
    en: "Please reopen the app from the chat.",
    zh: "请从聊天中重新打开本应用。",
  };
  const PROFILE_FIELDS = ["organization", "contact_person", "phone", "email", "industry"];
  const INPUT_TYPES = { phone: "tel", email: "email" };

  const app = document.getElementById("app");
  const root = document.documentElement;
  const fragment = new URLSearchParams(location.hash.slice(1));
  const webApp = window.Telegram && window.Telegram.WebApp;
  const initData = (webApp && webApp.initData) || fragment.get("tgWebAppData") || "";

  let texts = {};
  let me = null;
  let closed = false; // after a 401 nothing else is drawn

  // --- small helpers ----------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "testid") node.dataset.testid = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }

  // A catalog text with {placeholders} filled; `<key>.one` when the count is 1, as the
  // bot's own t() does (bot/ui/i18n.py).
  function t(key, values) {
    let name = key;
    if (values) {
      const count = ["n", "count", "total"].map((k) => values[k]).find((v) => v !== undefined);
      if (count === 1 && texts[`${key}.one`]) name = `${key}.one`;
    }
    const text = texts[name] !== undefined ? texts[name] : key;
    if (!values) return text;
    return text.replace(/\{(\w+)\}/g, (whole, field) =>
      values[field] !== undefined && values[field] !== null ? String(values[field]) : whole,
    );
  }

  function option(value, label, selected) {
    return el("option", { value: String(value), text: label, selected: selected || null });
  }

  function fillSelect(select, options) {
    const keep = select.value;
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function query(values) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(values)) {
      if (value !== "" && value !== false && value !== null && value !== undefined) {
        params.set(key, value === true ? "1" : String(value));
      }
    }
    const text = params.toString();
    return text ? `?${text}` : "";
  }

  // --- theme ------------------------------------------------------------------------

  const THEME_VARIABLES = {
    bg_color: "--bg",
    text_color: "--text",
    hint_color: "--hint",
    link_color: "--link",
    button_color: "--button",
    button_text_color: "--button-text",
    secondary_bg_color: "--secondary-bg",
  };

  function themeParams() {
    if (webApp && webApp.themeParams && Object.keys(webApp.themeParams).length) {
      return webApp.themeParams;
    }
    try {
      const parsed = JSON.parse(fragment.get("tgWebAppThemeParams") || "{}");
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch {
      return {};
    }
  }

  function isDark(hex) {
    let value = hex.slice(1);
    if (value.length === 3) value = [...value].map((c) => c + c).join("");
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(value.slice(i, i + 2), 16));
    return 0.299 * r + 0.587 * g + 0.114 * b < 128;
  }

  function applyTheme() {
    const params = themeParams();
    for (const [name, variable] of Object.entries(THEME_VARIABLES)) {
      const value = params[name];
      // Only a colour gets in: anything else would be CSS from the URL.
      if (typeof value === "string" && /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(value)) {
        root.style.setProperty(variable, value);
      }
    }
    const bg = params.bg_color;
    if (typeof bg === "string" && /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(bg)) {
      root.dataset.scheme = isDark(bg) ? "dark" : "light";
    }
  }

  // --- the API ----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && typeof body.error === "string" && body.error) || texts["web.error"] || "");
      this.status = status;
      this.field = body && typeof body.field === "string" ? body.field : null;
    }
  }
  class Reopened extends Error {}

  async function api(path, body) {
    const init = { headers: { Authorization: `tma ${initData}` }, cache: "no-store" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      // Relative: the page works under whatever path the TLS proxy gives it.
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, { error: t("web.network_error") });
    }
    if (response.status === 401) {
      reopen();
      throw new Reopened();
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    // The server's flood answer is not in the reader's language: ours is.
    if (response.status === 429) throw new ApiError(429, { error: t("web.too_many") });
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function userLanguage() {
    try {
      const user = JSON.parse(new URLSearchParams(initData).get("user") || "{}");
      return String(user.language_code || navigator.language || "").toLowerCase();
    } catch {
      return String(navigator.language || "").toLowerCase();
    }
  }

  function reopen() {
    closed = true;
    const lang = me ? me.lang : userLanguage().startsWith("zh") ? "zh" : "en";
    root.lang = lang === "zh" ? "zh-Hans" : "en";
    document.title = "";
    const sentence = texts["web.reopen"] || REOPEN[lang];
    app.replaceChildren(el("p", { id: "reopen", testid: "reopen", text: sentence }));
  }

  // --- the frame: header, tabs, the current screen, a notice line ------------------

  const notice = el("p", { id: "notice", testid: "notice", class: "notice", role: "status" });
  const screen = el("section", { id: "screen" });
  const tabs = {};

  function say(text, isError) {
    notice.textContent = text || "";
    notice.classList.toggle("error", Boolean(isError));
  }

  // Runs an async action; its refusal is shown on the notice line (or under its field).
  function guarded(action, fieldErrors) {
    return async (event) => {
      if (event && event.preventDefault) event.preventDefault();
      if (closed) return;
      try {
        await action(event);
      } catch (error) {
        if (error instanceof Reopened || closed) return;
        if (error instanceof ApiError) {
          const slot = error.field && fieldErrors && fieldErrors[error.field];
          if (slot) {
            slot.textContent = error.message;
            slot.scrollIntoView({ block: "center" });
            say("");
          } else say(error.message, true);
        } else {
          console.error(error);
          say(t("web.error"), true);
        }
      }
    };
  }

  function show(...children) {
    if (closed) return;
    say("");
    const parts = children.flat(2).filter((c) => c !== null && c !== undefined && c !== false);
    screen.replaceChildren(...parts);
    window.scrollTo(0, 0);
  }

  function frame() {
    const header = [el("h1", { id: "title", text: t("web.title") })];
    if (me.staff) {
      const nav = el("nav", { class: "tabs", role: "tablist" });
      const screens = [["board", "web.tab_board", openBoard]];
      // Charts and exports cover every inquiry: for those who may see reports (admins).
      if (me.reports !== false) screens.push(["charts", "web.tab_charts", openCharts]);
      screens.push(["catalog", "web.tab_catalog", openCatalog]);
      for (const [name, key, open] of screens) {
        tabs[name] = el("button", {
          id: `tab-${name}`, testid: `tab-${name}`, role: "tab", type: "button",
          text: t(key), onclick: guarded(() => open()),
        });
        nav.append(tabs[name]);
      }
      header.push(nav);
    }
    app.replaceChildren(...header, notice, screen);
  }

  function selectTab(name) {
    for (const [key, button] of Object.entries(tabs)) {
      button.setAttribute("aria-selected", String(key === name));
    }
  }

  function backButton(onclick) {
    return el("button", {
      id: "back", testid: "back", type: "button", class: "plain", text: `‹ ${t("web.back")}`,
      onclick: guarded(onclick),
    });
  }

  // --- staff: the board -------------------------------------------------------------

  const boardFilters = { kind: "", department: "", assignee: "", age: "", overdue: false, q: "" };

  async function openBoard() {
    selectTab("board");
    const kind = el("select", { id: "filter-kind", testid: "filter-kind", "aria-label": t("web.filter_kind") });
    const department = el("select", { id: "filter-department", testid: "filter-department", "aria-label": t("web.filter_department") });
    const assignee = el("select", { id: "filter-assignee", testid: "filter-assignee", "aria-label": t("web.filter_assignee") });
    const age = el("select", { id: "filter-age", testid: "filter-age", "aria-label": t("web.filter_age") });
    const overdue = el("input", { id: "filter-overdue", testid: "filter-overdue", type: "checkbox", checked: boardFilters.overdue || null });
    const search = el("input", {
      id: "board-search", testid: "board-search", type: "search", value: boardFilters.q,
      placeholder: t("web.search_board"), "aria-label": t("web.search_board"),
    });
    const columns = el("div", { id: "board", testid: "board", class: "board" });
    let loads = 0;
    let filtersFilled = false;

    const load = guarded(async () => {
      const mine = ++loads;
      const data = await api(`api/board${query(boardFilters)}`);
      if (mine !== loads || closed) return; // a newer filter's answer is on its way
      if (!filtersFilled) {
        filtersFilled = true;
        fillBoardFilters(data.filters, { kind, department, assignee, age });
      }
      columns.replaceChildren(...data.columns.map(boardColumn));
    });
    const changed = () => {
      boardFilters.kind = kind.value;
      boardFilters.department = department.value;
      boardFilters.assignee = assignee.value;
      boardFilters.age = age.value;
      boardFilters.overdue = overdue.checked;
      boardFilters.q = search.value.trim();
      load();
    };
    for (const control of [kind, department, assignee, age, overdue]) {
      control.addEventListener("change", changed);
    }
    search.addEventListener("input", debounce(changed, 300));
    const form = el(
      "form", { class: "filters", id: "board-filters", role: "search", onsubmit: (e) => { e.preventDefault(); changed(); } },
      search, kind, department, assignee, age,
      el("label", { class: "check" }, overdue, t("web.filter_overdue")),
    );
    show(form, columns);
    await load();
  }

  function fillBoardFilters(filters, selects) {
    fillSelect(selects.kind, [
      option("", t("web.any_kind")),
      ...filters.kinds.map((k) => option(k.value, k.label)),
    ]);
    fillSelect(selects.department, [
      option("", t("web.any_department")),
      ...filters.departments.map((d) => option(d.id, d.name)),
    ]);
    fillSelect(selects.assignee, [
      option("", t("web.any_assignee")),
      option("me", t("web.assignee_me")),
      option("none", t("web.assignee_none")),
      ...filters.assignees.map((a) => option(a.id, a.name)),
    ]);
    fillSelect(selects.age, [
      option("", t("web.any_age")),
      ...filters.ages.filter((n) => n > 0).map((n) => option(n, t("web.age_at_least", { n }))),
    ]);
    selects.kind.value = boardFilters.kind;
    selects.department.value = boardFilters.department;
    selects.assignee.value = boardFilters.assignee;
    selects.age.value = boardFilters.age;
  }

  function boardColumn(column) {
    const list = el("ol", {});
    for (const item of column.items) list.append(el("li", {}, boardCard(item)));
    if (!column.items.length) list.append(el("li", { class: "empty", text: t("web.column_empty") }));
    if (column.count > column.items.length) {
      list.append(el("li", { class: "empty", text: t("web.column_more", { n: column.count - column.items.length }) }));
    }
    return el(
      "section", { class: "column", testid: `column-${column.status}`, "data-status": column.status },
      el("h2", {}, el("span", { text: column.label }), el("span", { class: "count", testid: `count-${column.status}`, text: column.count })),
      list,
    );
  }

  function boardCard(item) {
    const what = [item.program || item.kind_label, item.department].filter(Boolean).join(" · ");
    const who = item.assignee || t("web.unassigned");
    return el(
      "button",
      {
        type: "button", class: item.overdue ? "card overdue" : "card",
        testid: `card-${item.id}`, "data-id": item.id,
        onclick: guarded(() => openDetail(item.id)),
      },
      el("div", {}, el("span", { class: "id", text: `#${item.id}` }), " ", el("span", { class: "org", text: item.organization || t("web.no_organization") })),
      what ? el("div", { class: "meta", text: what }) : null,
      el("div", { class: "meta", text: `${who} · ${t("web.age_days", { n: item.age_days })}` }),
      item.overdue ? el("div", { class: "mark", testid: "overdue", text: `⚠ ${t("web.overdue")}` }) : null,
      !item.overdue && item.next_due ? el("div", { class: "meta", text: t("web.next_due", { time: item.next_due }) }) : null,
    );
  }

  // --- staff: an inquiry's detail ---------------------------------------------------

  async function openDetail(id) {
    const answer = await api(`api/inquiries/${encodeURIComponent(id)}`);
    showDetail(answer.inquiry || answer); // the server wraps it as the actions' answers do
  }

  function fact(label, value) {
    if (value === null || value === undefined || value === "") return [];
    return [el("dt", { text: label }), el("dd", { text: value })];
  }

  function showDetail(d) {
    const facts = el(
      "dl", { class: "facts", testid: "facts" },
      fact(t("web.status"), d.status_label),
      fact(t("web.program"), d.program || d.kind_label),
      fact(t("web.department"), d.department),
      fact(t("web.contact_person"), d.contact_person),
      fact(t("web.phone"), d.phone),
      fact(t("web.email"), d.email),
      fact(t("web.created"), d.created),
      fact(t("web.assignee"), d.assignee ? d.assignee.name : t("web.unassigned")),
    );
    const post = (path, body, ready) =>
      guarded(async () => {
        if (ready && !ready()) return; // nothing chosen yet
        const answer = await api(`api/inquiries/${d.id}/${path}`, body());
        showDetail(answer.inquiry);
        say(answer.text);
      });

    const statusSelect = el("select", { id: "status-select", testid: "status-select", "aria-label": t("web.status") },
      d.statuses.map((s) => option(s.value, s.label, s.value === d.status)));
    const statusForm = el("form", { class: "row", id: "status-form", onsubmit: post("status", () => ({ status: statusSelect.value })) },
      statusSelect, el("button", { id: "move", testid: "move", type: "submit", text: t("web.move") }));

    const current = d.assignee ? d.assignee.id : null;
    const assignSelect = el("select", { id: "assign-select", testid: "assign-select", "aria-label": t("web.assignee") },
      current === null ? el("option", { value: "", text: t("web.unassigned"), disabled: true, selected: true }) : null,
      d.assignees.map((a) => option(a.id, a.name, a.id === current)));
    const assignForm = el("form", { class: "row", id: "assign-form", onsubmit: post("assign", () => ({ assignee_id: Number(assignSelect.value) }), () => assignSelect.value !== "") },
      assignSelect, el("button", { id: "assign", testid: "assign", type: "submit", text: t("web.assign"), disabled: d.assignees.length ? null : true }));

    const replyText = el("textarea", { id: "reply-text", testid: "reply-text", maxlength: 3500, "aria-label": t("web.reply") });
    const replyForm = el("form", { id: "reply-form", onsubmit: post("reply", () => ({ text: replyText.value.trim() })) },
      el("label", { for: "reply-text", text: t("web.reply") }), replyText,
      el("div", { class: "row" }, el("button", { id: "reply-send", testid: "reply-send", type: "submit", text: t("web.send") })));

    const stepTitle = el("input", { id: "step-title", testid: "step-title", type: "text", maxlength: 200, required: true });
    const stepDue = el("input", { id: "step-due", testid: "step-due", type: "datetime-local", required: true });
    const stepForm = el("form", { id: "step-form", onsubmit: post("steps", () => ({ title: stepTitle.value.trim(), due: stepDue.value })) },
      el("label", { for: "step-title", text: t("web.step_title") }), stepTitle,
      el("label", { for: "step-due", text: t("web.step_due", { zone: me.zone }) }), stepDue,
      el("div", { class: "row" }, el("button", { id: "step-add", testid: "step-add", type: "submit", text: t("web.add_step") })));

    const steps = el("ul", { class: "steps", id: "steps", testid: "steps" });
    for (const s of d.steps) {
      steps.append(el("li", { class: [s.done ? "done" : "", s.overdue ? "overdue" : ""].join(" ").trim(), testid: `step-${s.id}` },
        el("div", { text: s.title }),
        el("div", { class: s.overdue ? "mark" : "hint", text: s.overdue ? `⚠ ${t("web.overdue")} · ${s.due}` : s.due })));
    }
    if (!d.steps.length) steps.append(el("li", { class: "hint", text: t("web.no_steps") }));

    const timeline = el("ol", { class: "timeline", id: "timeline", testid: "timeline" });
    for (const e of d.events) {
      timeline.append(el("li", {},
        el("div", { class: "hint", text: [e.when, e.who, e.what].filter(Boolean).join(" · ") }),
        e.text ? el("div", { class: "wrap", text: e.text }) : null));
    }

    show(
      backButton(() => openBoard()),
      el("h2", { id: "detail-title", testid: "detail-title", text: `#${d.id} ${d.organization || t("web.no_organization")}` }),
      facts,
      d.message ? el("p", { class: "panel wrap", testid: "message", text: d.message }) : null,
      el("div", { class: "panel" }, el("h3", { text: t("web.actions") }), statusForm, assignForm, replyForm),
      el("h3", { text: t("web.steps") }), steps,
      el("div", { class: "panel" }, stepForm),
      el("h3", { text: t("web.timeline") }), timeline,
    );
  }

  // --- staff: charts and exports ----------------------------------------------------

  async function openCharts() {
    selectTab("charts");
    const stats = await api("api/stats");
    const result = el("p", { id: "export-result", testid: "export-result", class: "notice" });
    const exporter = (format) =>
      guarded(async () => {
        result.textContent = "";
        const answer = await api("api/export", { format });
        result.textContent = answer.text;
      });
    show(
      el("h2", { text: t("web.funnel") }), funnelChart(stats.funnel),
      el("h2", { text: t("web.per_week") }), weeksChart(stats.weeks),
      stats.median_first_response ? el("p", { id: "median", class: "hint", text: stats.median_first_response }) : null,
      el("h2", { text: t("web.export") }),
      el("div", { class: "row" },
        el("button", { id: "export-csv", testid: "export-csv", type: "button", text: t("web.export_csv"), onclick: exporter("csv") }),
        el("button", { id: "export-xlsx", testid: "export-xlsx", type: "button", text: t("web.export_xlsx"), onclick: exporter("xlsx") })),
      result,
    );
  }

  // One horizontal bar per status, its width the share of the largest.
  function funnelChart(funnel) {
    const width = 380, row = 26, labelWidth = 150;
    const most = Math.max(1, ...funnel.map((f) => f.count));
    const chart = svg("svg", { class: "chart", id: "funnel", "data-testid": "funnel", viewBox: `0 0 ${width} ${row * funnel.length + 4}`, role: "img", "aria-label": t("web.funnel") });
    funnel.forEach((f, i) => {
      const y = i * row + 2;
      const bar = Math.max(f.count ? 2 : 0, ((width - labelWidth - 40) * f.count) / most);
      chart.append(
        svg("text", { x: labelWidth - 6, y: y + 16, "text-anchor": "end", text: f.label }),
        svg("rect", { class: "bar", x: labelWidth, y: y + 3, width: bar, height: row - 8, rx: 3, "data-status": f.status, "data-count": f.count }),
        svg("text", { x: labelWidth + bar + 5, y: y + 16, class: "hint", text: f.count }),
      );
    });
    return chart;
  }

  // Inquiries per week: twelve columns, oldest first, labels slanted to fit a phone.
  function weeksChart(weeks) {
    const width = 360, height = 170, bottom = 50, top = 14, left = 34; // room for slanted labels
    const most = Math.max(1, ...weeks.map((w) => w.count));
    const step = (width - left - 5) / Math.max(1, weeks.length);
    const chart = svg("svg", { class: "chart", id: "weeks", "data-testid": "weeks", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("web.per_week") });
    chart.append(svg("line", { class: "axis", x1: left, x2: width - 5, y1: height - bottom, y2: height - bottom }));
    weeks.forEach((w, i) => {
      const barHeight = ((height - bottom - top) * w.count) / most;
      const x = left + i * step;
      const y = height - bottom - barHeight;
      const cx = x + step / 2;
      chart.append(
        svg("rect", { class: "bar", x: x + 3, y, width: step - 6, height: barHeight, rx: 2, "data-count": w.count }),
        svg("text", { x: cx, y: y - 3, "text-anchor": "middle", class: "hint", text: w.count }),
        svg("text", { x: cx, y: height - bottom + 12, "text-anchor": "end", transform: `rotate(-40 ${cx} ${height - bottom + 12})`, text: w.label }),
      );
    });
    return chart;
  }

  // --- the catalogue (contacts; staff see it as a contact does) ---------------------

  const catalogFilters = { kind: "", department: "", q: "", page: 1 };

  async function openCatalog() {
    selectTab("catalog");
    const kind = el("select", { id: "catalog-kind", testid: "catalog-kind", "aria-label": t("web.filter_kind") });
    const department = el("select", { id: "catalog-department", testid: "catalog-department", "aria-label": t("web.filter_department") });
    const search = el("input", {
      id: "catalog-search", testid: "catalog-search", type: "search", value: catalogFilters.q,
      placeholder: t("web.search_catalog"), "aria-label": t("web.search_catalog"),
    });
    const list = el("ul", { id: "programs", testid: "programs", class: "programs" });
    const total = el("p", { id: "catalog-total", testid: "catalog-total", class: "hint" });
    const prev = el("button", { id: "page-prev", testid: "page-prev", type: "button", class: "plain", text: `‹ ${t("web.previous")}` });
    const next = el("button", { id: "page-next", testid: "page-next", type: "button", class: "plain", text: `${t("web.next")} ›` });
    const where = el("span", { id: "page-of", testid: "page-of", class: "hint" });
    let loads = 0;

    const load = guarded(async () => {
      const mine = ++loads;
      const data = await api(`api/catalog${query(catalogFilters)}`);
      if (mine !== loads || closed) return;
      const counted = (label, count) => t("web.with_count", { label, count });
      fillSelect(kind, [option("", t("web.any_kind")), ...data.kinds.map((k) => option(k.value, counted(k.label, k.count)))]);
      fillSelect(department, [option("", t("web.any_department")), ...data.departments.map((d) => option(d.id, counted(d.name, d.count)))]);
      kind.value = catalogFilters.kind;
      department.value = catalogFilters.department;
      catalogFilters.page = data.page;
      total.textContent = t("web.total", { total: data.total });
      list.replaceChildren(...data.items.map(programItem));
      if (!data.items.length) list.append(el("li", { class: "empty", text: t("web.catalog_empty") }));
      where.textContent = t("web.page_of", { page: data.page, pages: Math.max(1, data.pages) });
      prev.disabled = data.page <= 1;
      next.disabled = data.page >= data.pages;
    });
    const changed = () => {
      catalogFilters.kind = kind.value;
      catalogFilters.department = department.value;
      catalogFilters.q = search.value.trim();
      catalogFilters.page = 1;
      load();
    };
    kind.addEventListener("change", changed);
    department.addEventListener("change", changed);
    search.addEventListener("input", debounce(changed, 300));
    prev.addEventListener("click", () => { catalogFilters.page -= 1; load(); });
    next.addEventListener("click", () => { catalogFilters.page += 1; load(); });
    show(
      el("form", { class: "filters", id: "catalog-filters", role: "search", onsubmit: (e) => { e.preventDefault(); changed(); } }, search, kind, department),
      total, list, el("div", { class: "pager" }, prev, where, next),
    );
    await load();
  }

  function programItem(p) {
    return el("li", {}, el(
      "button",
      { type: "button", class: "program", testid: `program-${p.id}`, "data-id": p.id, onclick: guarded(() => openProgram(p.id)) },
      el("div", { class: "title", text: p.title }),
      el("div", { class: "meta", text: [p.kind_label, p.department].filter(Boolean).join(" · ") }),
      p.summary ? el("div", { class: "summary", text: p.summary }) : null,
    ));
  }

  async function openProgram(id) {
    const p = await api(`api/programs/${encodeURIComponent(id)}`);
    showProgram(p);
  }

  function showProgram(p) {
    let action = null;
    if (!me.staff) {
      action = p.interested
        ? el("p", { id: "already-interested", testid: "already-interested", class: "notice", text: t("web.already_interested") })
        : el("button", { id: "interest", testid: "interest", type: "button", text: t("web.interested"), onclick: guarded(() => openInterest(p)) });
    }
    show(
      backButton(() => openCatalog()),
      el("h2", { id: "program-title", testid: "program-title", text: p.title }),
      el("p", { class: "hint", text: [p.kind_label, p.department].filter(Boolean).join(" · ") }),
      p.summary ? el("p", { class: "wrap", testid: "program-summary", text: p.summary }) : null,
      p.benefits ? [el("h3", { text: t("web.benefits") }), el("p", { class: "wrap", text: p.benefits })] : null,
      p.tags && p.tags.length ? [el("h3", { text: t("web.tags") }), el("ul", { class: "tags" }, p.tags.map((tag) => el("li", { text: tag })))] : null,
      p.contact ? [el("h3", { text: t("web.contact") }), el("p", { class: "wrap", text: p.contact })] : null,
      action,
    );
  }

  async function openInterest(p) {
    const answer = await api("api/profile");
    const errors = {};
    const inputs = {};
    const errorSlot = (name) => {
      errors[name] = el("p", { class: "field-error", id: `error-${name}`, testid: `error-${name}`, role: "alert" });
      return errors[name];
    };
    const parts = [];
    let consent = null;
    if (!answer.profile) {
      parts.push(el("p", { class: "hint", text: t("web.profile_intro") }));
      for (const name of PROFILE_FIELDS) {
        inputs[name] = el("input", {
          id: `field-${name}`, testid: `field-${name}`, name, type: INPUT_TYPES[name] || "text",
          maxlength: 200, autocomplete: name === "email" ? "email" : name === "phone" ? "tel" : "off",
        });
        parts.push(el("label", { for: `field-${name}`, text: (answer.fields && answer.fields[name]) || name }), inputs[name], errorSlot(name));
      }
      consent = el("input", { id: "consent", testid: "consent", type: "checkbox" });
      parts.push(
        el("p", { class: "panel consent", id: "consent-text", testid: "consent-text", text: answer.consent }),
        el("label", { class: "check" }, consent, t("web.consent_agree")),
        errorSlot("consent"),
      );
    } else {
      parts.push(el("p", { class: "hint", testid: "profile-known", text: t("web.profile_known", { organization: answer.profile.organization, contact_person: answer.profile.contact_person }) }));
    }
    const message = el("textarea", { id: "interest-message", testid: "interest-message", maxlength: 2000 });
    parts.push(el("label", { for: "interest-message", text: t("web.message_optional") }), message, errorSlot("message"));
    const send = el("button", { id: "interest-send", testid: "interest-send", type: "submit", text: t("web.send") });

    const submit = guarded(async () => {
      for (const slot of Object.values(errors)) slot.textContent = "";
      const body = { message: message.value.trim() };
      if (consent) {
        body.consent = consent.checked;
        body.profile = Object.fromEntries(PROFILE_FIELDS.map((n) => [n, inputs[n].value.trim()]));
      }
      send.disabled = true;
      try {
        const done = await api(`api/programs/${encodeURIComponent(p.id)}/interest`, body);
        show(
          backButton(() => openCatalog()),
          el("h2", { text: p.title }),
          el("p", { id: "interest-done", testid: "interest-done", class: "notice", text: done.text }),
        );
      } finally {
        send.disabled = false;
      }
    }, errors);

    show(
      backButton(() => showProgram(p)),
      el("h2", { id: "interest-title", testid: "interest-title", text: t("web.interest_title", { title: p.title }) }),
      el("form", { id: "interest-form", testid: "interest-form", onsubmit: submit, novalidate: true }, parts, el("div", { class: "row" }, send)),
    );
  }

  // --- start ------------------------------------------------------------------------

  // What telegram-web-app.js would tell the Telegram client (there is no CDN here): the
  // page is ready (the loading placeholder goes) and wants the full height (a board
  // needs it). Each client listens on its own channel; none of these carries data.
  function tellTelegram(eventType) {
    try {
      if (window.TelegramWebviewProxy) {
        window.TelegramWebviewProxy.postEvent(eventType, "{}"); // Android and iOS
      } else if (window.external && "notify" in window.external) {
        window.external.notify(JSON.stringify({ eventType, eventData: {} })); // Windows
      } else if (window.parent !== window) {
        window.parent.postMessage(JSON.stringify({ eventType, eventData: {} }), "*"); // Web
      }
    } catch {
      // not inside Telegram (a browser, a test): nothing to tell
    }
  }

  async function start() {
    applyTheme();
    if (webApp) {
      try {
        webApp.ready();
        webApp.expand();
      } catch {
        // an older client without these: the page works the same
      }
    } else {
      tellTelegram("web_app_ready");
      tellTelegram("web_app_expand");
    }
    if (!initData) {
      reopen();
      return;
    }
    try {
      me = await api("api/me");
    } catch (error) {
      if (!(error instanceof Reopened)) {
        app.replaceChildren(el("p", { id: "notice", class: "notice error", text: error.message || REOPEN[userLanguage().startsWith("zh") ? "zh" : "en"] }));
      }
      return;
    }
    texts = me.texts || {};
    root.lang = me.lang === "zh" ? "zh-Hans" : "en";
    document.title = t("web.title");
    frame();
    await guarded(() => (me.staff ? openBoard() : openCatalog()))();
  }

  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason instanceof Reopened) event.preventDefault();
  });
  start();
})();
