# Les pages Link hébergées de finlink, en français. Chaque message doit aussi exister dans
# en.ftl (un test unitaire compare les deux fichiers).

## Mise en page
secured-by = Sécurisé par finlink
language = Langue
support-heading = Besoin d’aide ?
support-email = Écrire à { $email }
support-url = Page d’assistance
skip-to-content = Aller au contenu

## Dates : { $day } { $month } { $year }
date = { $day } { $month } { $year }
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre

## Page de l’entreprise
company-title = Connecter { $company }
company-heading = Connectez vos outils de gestion
company-intro = { $client } souhaite lire les données des logiciels qu’utilise { $company }. Choisissez une plateforme et connectez-vous-y ; { $client } ne voit jamais votre mot de passe.
search-label = Rechercher une plateforme
search-button = Rechercher
search-clear = Afficher toutes les plateformes
search-none = Aucune plateforme ne correspond à « { $query } ».
platform-count = { $count ->
    [one] 1 plateforme
   *[other] { $count } plateformes
}
source-Accounting = Logiciels de comptabilité
source-Banking = Comptes bancaires
source-Commerce = Commerce et paiements
source-Other = Autres plateformes
why-heading = Ce qui est lu, et pourquoi
why-Accounting = { $client } lit les informations de votre entreprise, votre plan comptable, vos factures clients et fournisseurs, vos clients, vos fournisseurs, vos paiements et vos opérations bancaires, afin de comprendre la situation financière de votre entreprise. L’accès est en lecture seule : rien n’est modifié dans votre comptabilité.
why-Banking = { $client } lit les soldes et les opérations des comptes que vous choisissez, afin de connaître votre trésorerie. Aucun virement n’est possible.
why-Commerce = { $client } lit vos commandes, paiements, produits et clients, afin de comprendre vos ventes. Votre boutique n’est pas modifiée.
why-Other = { $client } lit les données que cette plateforme partage, uniquement pour vous fournir son service.
connect-platform = Connecter { $platform }
beta = Bêta
none-enabled = Aucune plateforme n’est encore disponible. Contactez { $client }.
accounting-linked = Votre logiciel de comptabilité est connecté. Vous pouvez encore ajouter des comptes bancaires ou des plateformes de commerce.
connections-heading = Vos connexions
status-Linked = Connectée
status-PendingAuth = Non terminée
status-Deauthorized = Accès expiré
status-Unlinked = Déconnectée
linked-since = Connectée le { $date }
started-on = Commencée le { $date }
reconnect = Reconnecter
finish = Terminer la connexion
add-another = Ajouter une autre plateforme

## Adresse de la boutique (plateformes de type Shopify)
shop-title = Votre boutique { $platform }
shop-heading = Quelle boutique { $platform } ?
shop-label = Adresse de la boutique
shop-help = L’adresse de votre boutique, par exemple acme.myshopify.com.
shop-invalid = Saisissez une adresse de boutique comme acme.myshopify.com.
continue-to = Continuer vers { $platform }

## Formulaire clé d’API ou identifiant
form-title = Connecter { $platform }
form-heading = Connecter { $platform }
form-intro = Saisissez les informations de votre compte { $platform }. Elles sont chiffrées et servent uniquement à lire vos données.
form-submit = Connecter
form-required = obligatoire
form-missing = Renseignez « { $field } ».
form-rejected = { $platform } n’a pas accepté ces informations. Vérifiez-les et réessayez.
form-unavailable = Impossible de joindre { $platform } pour vérifier ces informations. Réessayez dans un instant.
form-errors = Le formulaire comporte une erreur :

## Logiciels installés sur site
onprem-title = Connecter { $platform }
onprem-heading = Connecter { $platform } avec le connecteur de bureau
onprem-intro = { $platform } fonctionne sur votre propre ordinateur : la connexion passe donc par un petit connecteur de bureau plutôt que par une page de connexion.
onprem-step-1 = Sur l’ordinateur où { $platform } est installé, téléchargez le connecteur de bureau que { $client } vous a envoyé.
onprem-step-2 = Ouvrez le programme d’installation depuis votre dossier Téléchargements et suivez les étapes. Si Windows le demande, autorisez son exécution en tant qu’administrateur.
onprem-step-3 = Lorsque le connecteur demande une clé de licence, saisissez cette clé :
onprem-key-label = Clé de licence
onprem-step-4 = Laissez { $platform } ouvert, connecté en tant qu’administrateur, pendant que le connecteur lit vos données pour la première fois.
onprem-scope = Le connecteur de bureau lui-même ne fait pas partie de cette installation de finlink. Cette connexion reste en attente jusqu’à ce que le connecteur se manifeste.

## Déjà connectée
linked-title = { $platform } est connecté
linked-body = Cette connexion fonctionne déjà. Vous n’avez rien d’autre à faire.

## Choisir une organisation
org-title = Choisir une organisation
org-heading = Quelle organisation correspond à { $company } ?
org-intro = Votre compte { $platform } donne accès à plusieurs organisations. Choisissez celle à connecter.
org-legend = Organisations
org-invalid = Choisissez l’une des organisations proposées.
org-submit = Connecter cette organisation

## Confirmer le nom de l’entreprise
confirm-title = Confirmez votre entreprise
confirm-heading = Est-ce bien l’entreprise que vous vouliez connecter ?
confirm-found = { $platform } indique que vous avez connecté :
confirm-yes = Oui, la connecter
confirm-no = Non, recommencer

## La fin
success-title = Connecté
success-heading = Vous êtes connecté
success-body = { $platform } est maintenant connecté à { $client }. Vous pouvez fermer cette page.
failure-title = Non connecté
failure-heading = La connexion n’a pas abouti
failure-denied = L’accès à { $platform } n’a pas été accordé : rien n’a été connecté.
failure-body = { $platform } n’a pas terminé la connexion.
failure-detail = Détails : { $detail }
try-again = Réessayer
choose-another = Choisir une autre plateforme

## Liens refusés
refused-title = Ce lien ne peut pas être utilisé
refused-heading = Ce lien de connexion ne peut pas être utilisé
refused-Unknown = Ce lien de connexion n’est pas valide. Recommencez depuis la page que { $client } vous a donnée.
refused-Replayed = Cette connexion a déjà été terminée ou annulée : elle ne peut pas être réutilisée.
refused-Expired = Cette connexion a pris plus de 10 minutes et a expiré.
refused-OtherBrowser = Cette connexion a été commencée dans un autre navigateur ou une autre fenêtre. Terminez-la là-bas, ou recommencez ici.
refused-generic = Ce lien de connexion n’est pas valide. Recommencez depuis la page qui vous a été donnée.
nothing-changed = Rien n’a été modifié.
start-again = Recommencer

## Erreurs
notfound-title = Page introuvable
notfound-heading = Cette page n’existe pas
notfound-body = Vérifiez le lien reçu, ou demandez-en un nouveau à l’application qui vous a envoyé ici.
error-title = Une erreur est survenue
error-heading = Une erreur est survenue
error-body = Cette étape n’a pas pu aboutir. Réessayez dans un instant.
error-reference = Référence : { $reference }
csrf-body = Ce formulaire a expiré. Revenez en arrière, rechargez la page et réessayez.
conflict-body = { $detail }

## Retour vers l’application
return-title = Retour vers { $client }
return-heading = Retour vers { $client }…
return-link = Continuer vers { $client }
