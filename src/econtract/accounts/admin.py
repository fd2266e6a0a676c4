from django.contrib import admin

from econtract.accounts.models import ApiKey, Membership, Organization, User

admin.site.register(User)
admin.site.register(Organization)
admin.site.register(Membership)
admin.site.register(ApiKey)
