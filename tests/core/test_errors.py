from dda.core.errors import Conflict, DDAError, InvalidInput, NotFound, PermissionDenied, Unavailable


def test_errors_carry_message_and_fix() -> None:
    err = InvalidInput("image is 30000x30000 pixels", hint="resize it below 100 megapixels")
    assert isinstance(err, DDAError)
    assert err.to_dict() == {
        "code": "invalid_input",
        "message": "image is 30000x30000 pixels",
        "hint": "resize it below 100 megapixels",
    }
    assert "resize" in str(err)


def test_each_error_has_its_own_code() -> None:
    codes = {cls("x").code for cls in (NotFound, Conflict, InvalidInput, PermissionDenied, Unavailable)}
    assert len(codes) == 5
