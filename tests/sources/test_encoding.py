"""Which encoding a departmental file is in: UTF-8 when it is, else what its bytes and the silo's
country show."""
from __future__ import annotations

import io

import pytest

from sources.encoding import SAMPLE_BYTES, UndecodableFileError, describe_decode_error, detect_encoding

FRENCH = "id,name,city\n1,Hélène Lefèvre,Besançon\n2,François Müller,Zürich\n3,Ángel Núñez,Logroño\n"
CZECH = "id,name,city\n1,Antonín Dvořák,Plzeň\n2,Jiří Čermák,Brno\n"
RUSSIAN = "id,name\n1,Иван Петров\n2,Мария Соколова\n"


def opener(data: bytes):
    return lambda: io.BytesIO(data)


@pytest.mark.parametrize("text, encoding, country", [
    (FRENCH, "cp1252", "FR"),
    (FRENCH, "cp1252", None),  # without a country: the western code page
    (FRENCH, "cp1252", "US"),
    (CZECH, "cp1250", "CZ"),
    (RUSSIAN, "cp1251", "RU"),
    (FRENCH, "utf-16", "FR"),  # Excel's "Unicode text"
])
def test_a_code_page_file_reads_back_as_written(text, encoding, country):
    data = text.encode(encoding)
    found = detect_encoding(opener(data), "people.csv", country)
    assert data.decode(found) == text


@pytest.mark.parametrize("data", [FRENCH.encode("utf-8"), b"\xef\xbb\xbf" + FRENCH.encode("utf-8"), b"id,name\n1,Ann\n", b""])
def test_utf8_with_or_without_a_byte_order_mark_is_utf8(data):
    assert detect_encoding(opener(data), "people.csv", "FR") == "utf-8-sig"


def test_the_first_non_utf8_byte_far_into_a_large_file_is_found_and_read():
    ascii_rows = "".join(f"{i},Name {i},Paris\n" for i in range(200_000)).encode()
    assert len(ascii_rows) > 2 * SAMPLE_BYTES
    data = b"id,name,city\n" + ascii_rows + "9,Hélène Lefèvre,Besançon\n".encode("cp1252")
    found = detect_encoding(opener(data), "big.csv", "FR")
    assert found == "cp1252" and data.decode(found).endswith("Hélène Lefèvre,Besançon\n")


def test_the_country_decides_between_code_pages_that_fit_alike():
    data = "id,name\n1,Lefèvre\n".encode("cp1252")  # 0xe8: è in cp1252, č in cp1250
    assert data.decode(detect_encoding(opener(data), "x.csv", "FR")) == "id,name\n1,Lefèvre\n"
    assert data.decode(detect_encoding(opener(data), "x.csv", "CZ")) == "id,name\n1,Lefčvre\n"


def test_an_encoding_no_department_writes_does_not_win_on_a_small_sample():
    """charset-normalizer reads these two rows a shade more cleanly as ISO 8859-14 (Celtic), where
    the 0xb0 of 'N°' is 'Ḟ'."""
    text = ("N° client;Nom;Prénom;Téléphone;Courriel;Date de naissance;Adresse;Code postal;Ville\r\n"
            "1001;Dupré;Jean;06 71 84 29 53;jean.dupre@orange.fr;07/03/1984;12 rue de la Paix;75002;Paris\r\n"
            "1002;Martin;Claire;01 42 68 53 00;claire.martin@free.fr;15/11/1979;3 avenue Foch;75116;Paris\r\n")
    data = text.encode("cp1252")
    assert data.decode(detect_encoding(opener(data), "clients.csv", None)) == text


def test_bytes_that_are_no_text_are_refused_by_name():
    noise = bytes(range(256)) * 50
    with pytest.raises(UndecodableFileError, match="blob.csv: not UTF-8"):
        detect_encoding(opener(noise), "blob.csv", None)


def test_a_decode_error_names_the_file_the_encoding_and_the_fix():
    with pytest.raises(UnicodeDecodeError) as caught:
        "Zoë".encode("latin-1").decode("utf-8")
    message = describe_decode_error(caught.value, "shop/people.csv", "utf-8")
    assert "shop/people.csv: not readable as utf-8 (byte 0xeb)" in message and "csv.encoding" in message
