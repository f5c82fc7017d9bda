# finlink's hosted Link pages, English. Every message here must exist in fr.ftl too
# (a unit test compares the two files).

## Layout
secured-by = Secured by finlink
language = Language
support-heading = Need help?
support-email = Email { $email }
support-url = Support page
skip-to-content = Skip to content

## Dates: { $day } { $month } { $year }
date = { $day } { $month } { $year }
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December

## Company page
company-title = Connect { $company }
company-heading = Connect your business platforms
company-intro = { $client } asks to read data from the software { $company } uses. Choose a platform and sign in there; { $client } never sees your password.
search-label = Search platforms
search-button = Search
search-clear = Show all platforms
search-none = No platform matches “{ $query }”.
platform-count = { $count ->
    [one] 1 platform
   *[other] { $count } platforms
}
source-Accounting = Accounting software
source-Banking = Bank accounts
source-Commerce = Commerce and payments
source-Other = Other platforms
why-heading = What is read and why
why-Accounting = { $client } reads your company details, chart of accounts, invoices, bills, customers, suppliers, payments and bank transactions, to understand your business's finances. It can only read: nothing in your books is changed.
why-Banking = { $client } reads the balances and transactions of the accounts you choose, to see your cash position. It cannot move money.
why-Commerce = { $client } reads your orders, payments, products and customers, to understand your sales. It cannot change your store.
why-Other = { $client } reads the data this platform shares, only to provide its service to you.
connect-platform = Connect { $platform }
beta = Beta
none-enabled = No platform is available yet. Contact { $client }.
accounting-linked = Your accounting software is connected. You can still add bank accounts or commerce platforms.
connections-heading = Your connections
status-Linked = Connected
status-PendingAuth = Not finished
status-Deauthorized = Access expired
status-Unlinked = Disconnected
linked-since = Connected on { $date }
started-on = Started on { $date }
reconnect = Reconnect
finish = Finish connecting
add-another = Add another platform

## Shop address (Shopify-style platforms)
shop-title = Your { $platform } store
shop-heading = Which { $platform } store?
shop-label = Store address
shop-help = Your store's address, for example acme.myshopify.com.
shop-invalid = Enter a store address such as acme.myshopify.com.
continue-to = Continue to { $platform }

## API-key and basic-auth form
form-title = Connect { $platform }
form-heading = Connect { $platform }
form-intro = Enter the details from your { $platform } account. They are encrypted and used only to read your data.
form-submit = Connect
form-required = required
form-missing = Fill in “{ $field }”.
form-rejected = { $platform } did not accept these details. Check them and try again.
form-unavailable = { $platform } could not be reached to check these details. Try again in a moment.
form-errors = The form has a problem:

## On-premise platforms
onprem-title = Connect { $platform }
onprem-heading = Connect { $platform } with the desktop connector
onprem-intro = { $platform } runs on your own computer, so it connects through a small desktop connector instead of a sign-in page.
onprem-step-1 = On the computer where { $platform } is installed, download the desktop connector that { $client } sent you.
onprem-step-2 = Open the installer from your Downloads folder and follow its steps. If Windows asks, allow it to run as an administrator.
onprem-step-3 = When the connector asks for a licence key, enter this key:
onprem-key-label = Licence key
onprem-step-4 = Keep { $platform } open, signed in as an administrator, while the connector reads your data for the first time.
onprem-scope = The desktop connector itself is not part of this finlink installation. This connection waits until the connector checks in.

## Already connected
linked-title = { $platform } is connected
linked-body = This connection already works. There is nothing more to do.

## Choose an organisation
org-title = Choose an organisation
org-heading = Which organisation is { $company }?
org-intro = Your { $platform } sign-in gives access to several organisations. Choose the one to connect.
org-legend = Organisations
org-invalid = Choose one of the organisations listed.
org-submit = Connect this organisation

## Confirm the company name
confirm-title = Confirm your company
confirm-heading = Is this the company you meant to connect?
confirm-found = { $platform } says you connected:
confirm-yes = Yes, connect it
confirm-no = No, start over

## The end
success-title = Connected
success-heading = You're connected
success-body = { $platform } is now connected to { $client }. You can close this page.
failure-title = Not connected
failure-heading = The connection did not complete
failure-denied = Access to { $platform } was not granted, so nothing was connected.
failure-body = { $platform } did not complete the connection.
failure-detail = Details: { $detail }
try-again = Try again
choose-another = Choose another platform

## Refused links
refused-title = This link can't be used
refused-heading = This sign-in link can't be used
refused-Unknown = This sign-in link is not valid. Start again from the page { $client } gave you.
refused-Replayed = This sign-in was already completed or cancelled, so it can't be used again.
refused-Expired = This sign-in took more than 10 minutes and has expired.
refused-OtherBrowser = This sign-in was started in another browser or window. Finish it there, or start again here.
refused-generic = This sign-in link is not valid. Start again from the page you were given.
nothing-changed = Nothing was changed.
start-again = Start again

## Errors
notfound-title = Page not found
notfound-heading = This page does not exist
notfound-body = Check the link you were given, or ask the application that sent you here for a new one.
error-title = Something went wrong
error-heading = Something went wrong
error-body = This step could not be completed. Try again in a moment.
error-reference = Reference: { $reference }
csrf-body = This form has expired. Go back, reload the page and try again.
conflict-body = { $detail }

## Back to the application
return-title = Returning to { $client }
return-heading = Taking you back to { $client }…
return-link = Continue to { $client }
