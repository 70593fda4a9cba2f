"""The dump filters that sit between the backup file and the ``mariadb`` client."""

import pytest

from backups.pipeline import without_definers

DUMP = (
    b"INSERT INTO `crm_client` VALUES (1,'DEFINER=`root`@`localhost` is only text here');\n"
    b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`127.0.0.1`*/ /*!50003 TRIGGER t BEFORE INSERT ON crm_client"
    b" FOR EACH ROW\nSET NEW.name = NEW.name */;;\n"
    b"-- Dump completed\n"
)


@pytest.mark.parametrize("size", [1, 7, 64, len(DUMP)])
def test_a_triggers_definer_is_removed_however_the_stream_is_cut(size):
    chunks = [DUMP[i : i + size] for i in range(0, len(DUMP), size)]

    restored = b"".join(without_definers(chunks))

    assert restored == DUMP.replace(b"/*!50017 DEFINER=`root`@`127.0.0.1`*/ ", b"")
    assert b"is only text here" in restored  # data that merely looks like a definer is kept
