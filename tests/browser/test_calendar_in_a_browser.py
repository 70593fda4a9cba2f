"""The appointment calendar as a receptionist uses it, in a real headless Chromium: book by
clicking an empty slot, move a booking by dragging it, and see an overlap refused in place."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from bookings.models import Booking
from crm.models import Role, User
from tests.browser.support import BROWSER, csp_violations, shot
from tests.factories import BookingFactory, BookingItemFactory, ClientFactory, ServiceFactory

pytestmark = BROWSER

PASSWORD = "a long staff password"
DAY = date(2030, 3, 13)  # a Wednesday


def _at(hour, minute=0):
    return timezone.make_aware(datetime.combine(DAY, datetime.min.time())) + timedelta(hours=hour, minutes=minute)


@pytest.fixture
def salon(transactional_db):
    sara = User.objects.create_user("sara@salon.test", PASSWORD, name="Sara", surname="Gil", role=Role.STAFF)
    lucia = User.objects.create_user("lucia@salon.test", PASSWORD, name="Lucía", surname="Mora", role=Role.STAFF)
    return {"sara": sara, "lucia": lucia}


def sign_in(live_server, browser, user, *, language="en"):
    user.language = language
    user.save(update_fields=["language"])
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(user.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "site-name")


def open_calendar(live_server, browser, **params):
    query = "&".join(f"{k}={v}" for k, v in {"date": DAY.isoformat(), **params}.items())
    browser.get(f"{live_server.url}{reverse('admin:bookings_booking_calendar')}?{query}")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#booking-calendar .ec-event"))
    browser.execute_script(
        "window.scrollTo(0, document.getElementById('booking-calendar').getBoundingClientRect().top + window.scrollY)"
    )


def wait(browser, condition, timeout=10):
    return WebDriverWait(browser, timeout).until(condition)


def slot_point(browser, staff, hour, minute=0):
    """Viewport coordinates of the middle of ``staff``'s column at ``hour:minute`` in the day view."""
    return browser.execute_script(
        """
        const [staffId, hour, minute] = arguments;
        const cal = window.bookingCalendar;
        const columns = [...document.querySelectorAll('#booking-calendar .ec-body .ec-day, #booking-calendar .ec-body .ec-resource')];
        for (let y = 0; y < window.innerHeight; y += 2) {
          for (const col of columns) {
            const box = col.getBoundingClientRect();
            if (box.width === 0) continue;
            const x = box.left + box.width / 2;
            const info = cal.dateFromPoint(x, y);
            if (info && info.resource && String(info.resource.id) === String(staffId)
                && info.date.getHours() === hour && info.date.getMinutes() === minute) {
              return [x, y + 4];
            }
          }
        }
        return null;
        """,
        staff.pk,
        hour,
        minute,
    )


def test_the_calendar_books_an_empty_slot_moves_a_booking_and_refuses_an_overlap(live_server, browser, salon):
    sara, lucia = salon["sara"], salon["lucia"]
    ServiceFactory(name="Manicura", duration_minutes=45)
    ana = ClientFactory(name="Ana", surname="Ruiz")
    moved = BookingFactory(client=ClientFactory(name="Berta"), staff=sara, start=_at(9), end=_at(10))
    # A client's name is shown as text, never as markup (the policy would refuse the handler too).
    carmen = ClientFactory(name="Carmen", surname="<img src=x onerror=window.hacked=1>")
    BookingFactory(client=carmen, staff=lucia, start=_at(11), end=_at(12))
    browser.set_window_size(1400, 1500)
    sign_in(live_server, browser, sara)
    open_calendar(live_server, browser)
    assert csp_violations(browser) == []
    assert "Carmen <img src=x" in browser.find_element(By.ID, "booking-calendar").text
    assert browser.execute_script("return window.hacked") is None
    shot(browser, "calendar-day")

    # Book: click Sara's empty slot at 10:00, find the client, tick a service, save.
    click_at(browser, *slot_point(browser, sara, 10))
    dialog = wait(browser, ec.visibility_of_element_located((By.ID, "booking-dialog")))
    dialog.find_element(By.ID, "booking-client-search").send_keys("Ana")
    wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "#booking-client-results button"))).click()
    dialog.find_element(By.XPATH, ".//label[contains(., 'Manicura')]/input").click()
    shot(browser, "calendar-booking-form")
    dialog.find_element(By.ID, "booking-save").click()
    wait(browser, lambda d: Booking.objects.filter(client=ana).exists())
    booked = Booking.objects.get(client=ana)
    assert (booked.staff, booked.start, booked.end) == (sara, _at(10), _at(10, 45))
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-booking-id='{booked.pk}']"))
    shot(browser, "calendar-booked")

    # Move: drag Berta's 9:00 booking into Lucía's column at 14:00.
    drag_booking(browser, moved, to=slot_point(browser, lucia, 14))
    wait(browser, lambda d: Booking.objects.get(pk=moved.pk).start == _at(14))
    moved.refresh_from_db()
    assert (moved.staff, moved.start, moved.end) == (lucia, _at(14), _at(15))
    wait(browser, ec.text_to_be_present_in_element((By.ID, "calendar-message"), "Booking moved."))
    shot(browser, "calendar-moved")

    # Refused: drag it onto Carmen's 11:00 booking with Lucía; it goes back, the reason shows.
    drag_booking(browser, moved, to=slot_point(browser, lucia, 11, 30))
    message = wait(browser, ec.visibility_of_element_located((By.CSS_SELECTOR, "#calendar-message.error")))
    assert "Lucía Mora already has a booking from 11:00 to 12:00 on 03/13/2030." in message.text
    moved.refresh_from_db()
    assert (moved.staff, moved.start, moved.end) == (lucia, _at(14), _at(15))
    wait(browser, lambda d: event_start_hour(d, moved) == 14)
    shot(browser, "calendar-overlap-refused")
    assert csp_violations(browser) == []


def click_at(browser, x, y):
    """A real pointer click at viewport coordinates (the calendar listens to pointer events)."""
    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(round(x), round(y)).click()
    actions.perform()


def drag_booking(browser, booking, *, to, edge=False):
    """Press on the top of the booking (or on its lower ``edge``, to resize it), move in steps
    (the calendar starts a drag after a few pixels) to ``to`` (viewport coordinates), let go."""
    x, y = browser.execute_script(
        "const r = document.querySelector(`[data-booking-id='${arguments[0]}']`).getBoundingClientRect();"
        "return [r.left + r.width / 2, arguments[1] ? r.bottom - 3 : r.top + 6]",
        str(booking.pk),
        edge,
    )
    actions = ActionBuilder(browser, duration=40)
    actions.pointer_action.move_to_location(round(x), round(y)).pause(0.2).pointer_down()
    steps = 8
    for n in range(1, steps + 1):
        actions.pointer_action.move_to_location(round(x + (to[0] - x) * n / steps), round(y + (to[1] - y) * n / steps))
    actions.pointer_action.pointer_up()
    actions.perform()


def week_slot_point(browser, day, hour, minute=0):
    """Viewport coordinates of ``day`` at ``hour:minute`` in the week view."""
    return browser.execute_script(
        """
        const [iso, hour, minute] = arguments;
        const cal = window.bookingCalendar;
        for (const col of document.querySelectorAll('#booking-calendar .ec-body .ec-day')) {
          const box = col.getBoundingClientRect();
          const x = box.left + box.width / 2;
          for (let y = Math.max(box.top, 0); y < Math.min(box.bottom, window.innerHeight); y += 2) {
            const info = cal.dateFromPoint(x, y);
            const d = info && info.date;
            const day = d && `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
            if (day === iso && d.getHours() === hour && d.getMinutes() === minute) return [x, y + 4];
          }
        }
        return null;
        """,
        day.isoformat(),
        hour,
        minute,
    )


def event_start_hour(browser, booking):
    return browser.execute_script(
        "return window.bookingCalendar.getEventById(arguments[0]).start.getHours()", str(booking.pk)
    )


def test_a_spanish_receptionist_stretches_a_booking_in_a_staff_members_week(live_server, browser, salon):
    sara, lucia = salon["sara"], salon["lucia"]
    booking = BookingFactory(client=ClientFactory(name="Dora"), staff=sara, start=_at(10), end=_at(11))
    BookingItemFactory(booking=booking, name="Tinte", duration_minutes=60)
    BookingFactory(client=ClientFactory(name="Elena"), staff=lucia, start=_at(10), end=_at(11))
    browser.set_window_size(1400, 1500)
    sign_in(live_server, browser, lucia, language="es")
    open_calendar(live_server, browser, view="week", staff=sara.pk)

    # The calendar speaks Spanish, shows Monday to Sunday, and only Sara's week.
    assert browser.find_element(By.CSS_SELECTOR, ".ec-button.ec-today").text == "Hoy"
    assert browser.find_element(By.CSS_SELECTOR, ".ec-button.ec-timeGridWeek").text == "Semana"
    assert browser.find_element(By.ID, "calendar-staff-picker").is_displayed()
    assert "lun" in browser.find_elements(By.CSS_SELECTOR, ".ec-col-head")[0].text.lower()
    assert [e.get_attribute("data-booking-id") for e in browser.find_elements(By.CSS_SELECTOR, ".ec-event")] == [
        str(booking.pk)
    ]
    assert "Pendiente" in browser.find_element(By.CSS_SELECTOR, ".calendar-legend").text
    shot(browser, "calendar-week-es")

    # Stretch it by half an hour from its lower edge: its service now lasts 90 minutes.
    # The edge ends where the slot under the pointer ends: let go inside the 11:15 slot.
    x, y = week_slot_point(browser, DAY, 11, 30)
    drag_booking(browser, booking, to=(x, y - 12), edge=True)
    wait(browser, lambda d: Booking.objects.get(pk=booking.pk).end == _at(11, 30))
    assert booking.items.get().duration_minutes == 90
    wait(browser, ec.text_to_be_present_in_element((By.ID, "calendar-message"), "Cita movida."))
    shot(browser, "calendar-week-resized")
    assert csp_violations(browser) == []
