/* The appointment calendar in the admin: vkurko's EventCalendar (vendored beside this file) over
 * the booking admin's JSON views. Every write goes to the server, which books and moves through
 * the booking services; a refusal puts the booking back where it was and says why.
 *
 * Times travel as the salon's wall-clock time without an offset ("2030-03-13T10:00:00"): the
 * calendar shows them as they are, and the same digits go back.
 */
(function () {
  "use strict";

  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const options = read("calendar-options");
  const texts = read("calendar-texts");
  const csrf = document.querySelector("#booking-calendar-page [name=csrfmiddlewaretoken]").value;
  const message = document.getElementById("calendar-message");
  const pickerLabel = document.getElementById("calendar-staff-picker");
  const picker = document.getElementById("calendar-staff");
  const DAY_VIEW = "resourceTimeGridDay", WEEK_VIEW = "timeGridWeek";
  let calendar;

  const pad = (n) => String(n).padStart(2, "0");
  const wallClock = (d) =>
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:00`;
  const isWeek = () => calendar && calendar.getView().type === WEEK_VIEW;

  function say(text, kind) {
    message.textContent = text;
    message.className = kind;
    message.hidden = !text;
  }

  async function post(url, data) {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(data)) {
      for (const one of [].concat(value)) body.append(name, one);
    }
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: {"X-CSRFToken": csrf, "Accept": "application/json"},
    });
    let payload = {};
    try {
      payload = await response.json();
    } catch (error) {
      payload = {};
    }
    return {ok: response.ok, payload};
  }

  // --- moving and resizing ---------------------------------------------------------------------

  async function save(info, resourceChanged) {
    const event = info.event;
    const data = {start: wallClock(event.start), end: wallClock(event.end)};
    if (resourceChanged && info.newResource) {
      data.staff = info.newResource.id;
      data.staff_changed = "1";
    }
    say(texts.saving, "info");
    let answer;
    try {
      answer = await post(options.urls.move.replace(/0\/move\/$/, `${event.id}/move/`), data);
    } catch (error) {
      answer = {ok: false, payload: {error: texts.failed}};
    }
    if (answer.ok) {
      say(texts.moved, "success");
      calendar.refetchEvents();
    } else {
      info.revert();
      say(answer.payload.error || texts.failed, "error");
    }
  }

  // --- booking an empty slot ------------------------------------------------------------------------

  const dialog = document.getElementById("booking-dialog");
  const form = document.getElementById("booking-form");
  const search = document.getElementById("booking-client-search");
  const clientId = document.getElementById("booking-client");
  const results = document.getElementById("booking-client-results");
  const formError = document.getElementById("booking-error");
  let slot = null;
  let searchTimer = null;

  function staffName(resource) {
    if (resource) return resource.title;
    return picker.selectedOptions.length ? picker.selectedOptions[0].textContent : "";
  }

  function describeSlot() {
    const minutes = [...form.querySelectorAll("input[name=services]:checked")]
      .reduce((total, box) => total + Number(box.dataset.minutes), 0);
    const end = minutes ? new Date(slot.start.getTime() + minutes * 60000) : slot.end;
    const day = new Intl.DateTimeFormat(options.locale, {dateStyle: "full"}).format(slot.start);
    const time = new Intl.DateTimeFormat(options.locale, {timeStyle: "short"});
    const who = staffName(slot.resource);
    document.getElementById("booking-when").textContent =
      `${day}, ${time.format(slot.start)}–${time.format(end)}${who ? " · " + who : ""}`;
    document.getElementById("booking-end").value = minutes ? "" : wallClock(slot.end);
  }

  function openBooking(start, end, resource) {
    if (!dialog) return;
    const staff = resource ? resource.id : picker.value;
    slot = {start, end, staff, resource};
    form.reset();
    clientId.value = "";
    results.replaceChildren();
    formError.hidden = true;
    document.getElementById("booking-staff").value = staff || "";
    document.getElementById("booking-start").value = wallClock(start);
    describeSlot();
    dialog.showModal();
    search.focus();
  }

  async function findClients() {
    clientId.value = "";
    const term = search.value.trim();
    if (!term) {
      results.replaceChildren();
      return;
    }
    const params = new URLSearchParams({term, app_label: "bookings", model_name: "booking", field_name: "client"});
    const response = await fetch(`${options.urls.clients}?${params}`, {credentials: "same-origin"});
    if (!response.ok) return;
    const found = (await response.json()).results || [];
    results.replaceChildren(...found.map((client) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "option");
      button.dataset.id = client.id;
      button.textContent = client.text;
      button.addEventListener("click", () => {
        clientId.value = client.id;
        search.value = client.text;
        results.replaceChildren();
      });
      item.append(button);
      return item;
    }));
    if (!found.length) {
      const item = document.createElement("li");
      item.className = "quiet";
      item.textContent = texts.noClients;
      results.append(item);
    }
  }

  async function book(submitEvent) {
    submitEvent.preventDefault();
    if (!clientId.value) {
      formError.textContent = texts.chooseClient;
      formError.hidden = false;
      return;
    }
    const data = {};
    for (const [name, value] of new FormData(form)) {
      data[name] = name === "services" ? [].concat(data[name] || [], value) : value;
    }
    let answer;
    try {
      answer = await post(options.urls.book, data);
    } catch (error) {
      answer = {ok: false, payload: {error: texts.failed}};
    }
    if (answer.ok) {
      dialog.close();
      say(texts.booked, "success");
      calendar.refetchEvents();
    } else {
      formError.textContent = answer.payload.error || texts.failed;
      formError.hidden = false;
    }
  }

  if (dialog) {
    search.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(findClients, 250);
    });
    form.addEventListener("change", (event) => {
      if (event.target.name === "services") describeSlot();
    });
    form.addEventListener("submit", book);
    document.getElementById("booking-cancel").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => calendar.unselect());
  }

  // --- the calendar ------------------------------------------------------------------------------

  function showPicker(viewType) {
    pickerLabel.hidden = viewType !== WEEK_VIEW;
  }

  async function loadColumns(info) {
    const params = new URLSearchParams({start: wallClock(info.start), end: wallClock(info.end)});
    const response = await fetch(`${options.urls.resources}?${params}`, {credentials: "same-origin"});
    if (!response.ok) throw new Error(response.statusText);
    return response.json();
  }

  function labels(next, prev) {
    const own = {today: texts.today, [DAY_VIEW]: texts.day, [WEEK_VIEW]: texts.week, close: texts.close};
    return (defaults) => ({...defaults, ...own, ...(next ? {next, prev} : {})});
  }

  calendar = EventCalendar.create(document.getElementById("booking-calendar"), {
    view: options.view === "week" ? WEEK_VIEW : DAY_VIEW,
    date: options.date,
    locale: options.locale,
    firstDay: 1,
    height: "100%",
    headerToolbar: {start: "prev,next today", center: "title", end: `${DAY_VIEW},${WEEK_VIEW}`},
    buttonText: labels(),
    views: {
      [DAY_VIEW]: {buttonText: labels(texts.nextDay, texts.previousDay)},
      [WEEK_VIEW]: {buttonText: labels(texts.nextWeek, texts.previousWeek)},
    },
    allDaySlot: false,
    nowIndicator: true,
    slotDuration: "00:15:00",
    slotLabelInterval: "01:00",
    slotMinTime: options.opening,
    slotMaxTime: options.closing,
    flexibleSlotTimeLimits: true,
    scrollTime: options.opening,
    eventTimeFormat: {hour: "2-digit", minute: "2-digit"},
    slotLabelFormat: {hour: "2-digit", minute: "2-digit"},
    resources: loadColumns,
    refetchResourcesOnNavigate: true,
    eventSources: [{url: options.urls.events, extraParams: () => (isWeek() ? {staff: picker.value} : {})}],
    selectable: options.canAdd,
    editable: options.canChange,
    eventStartEditable: options.canChange,
    eventDurationEditable: options.canChange,
    dateClick: (info) => {
      if (!options.canAdd) return;
      openBooking(info.date, new Date(info.date.getTime() + 30 * 60000), info.resource);
    },
    select: (info) => openBooking(info.start, info.end, info.resource),
    eventDrop: (info) => save(info, Boolean(info.newResource)),
    eventResize: (info) => save(info, false),
    eventClick: (info) => {
      if (info.event.extendedProps.url) window.location.assign(info.event.extendedProps.url);
    },
    eventDidMount: (info) => {
      const props = info.event.extendedProps;
      info.el.title = `${info.event.title} · ${props.statusLabel}${props.staff ? " · " + props.staff : ""}`;
      info.el.dataset.bookingId = info.event.id;
      info.el.dataset.status = props.status;
    },
    datesSet: (info) => showPicker(info.view.type),
  });

  picker.addEventListener("change", () => calendar.refetchEvents());
  showPicker(calendar.getView().type);
  window.bookingCalendar = calendar;
})();
