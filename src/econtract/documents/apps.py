from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "econtract.documents"
    label = "documents"
    verbose_name = "Documents"
