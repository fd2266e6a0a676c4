from ninja import NinjaAPI

api = NinjaAPI(title="econtract API", version="1", urls_namespace="api")
