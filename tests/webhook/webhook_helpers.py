"""Constants shared by the webhook tests."""

USER = "databricks-destination"
PASSWORD = "Wh-P4ssw0rd-for-the-destination"
HOST = "https://adb-1234567890123456.7.azuredatabricks.net"
