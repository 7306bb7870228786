# doorman em português do Brasil. Os mesmos ids de locales/en/doorman.ftl;
# os textos não contêm < > & nem ".

## Em todas as páginas

sign-out = Sair
sign-in-again = Entrar novamente
back-to-sign-in = Voltar para o login
back-to-app = Voltar para o aplicativo
cancel = Cancelar
use-another-method = Usar outro método
send-again = Reenviar
send-again-wait = Reenviar (em { $seconds } s)

## Tempos de espera

wait-seconds = { $n ->
    [one] { $n } segundo
   *[other] { $n } segundos
}
wait-minutes = { $n ->
    [one] { $n } minuto
   *[other] { $n } minutos
}
wait-hours = { $n ->
    [one] { $n } hora
   *[other] { $n } horas
}

## Login

login-title = Entrar
login-username = Nome de usuário
login-password = Senha
login-continue = Continuar
login-missing = Digite seu nome de usuário e sua senha.
login-wrong = Nome de usuário ou senha incorretos.
login-locked = Muitas tentativas de login sem sucesso com este nome de usuário. O login está bloqueado até { $until } UTC (faltam { $wait }).

## Escolher um método

choose-title = Confirme que é você
choose-hello = Olá, { $user }. Como você quer receber seu código de acesso?
offer-sms = SMS para { $to }
offer-voice = Ligação para { $to }
offer-push = Aprovar no meu celular
offer-totp = Código do meu app autenticador
offer-webauthn = Usar sua chave de acesso
no-factor-title = Nenhum segundo fator configurado
no-factor-text = Sua conta não tem como receber um código de acesso. Peça ao seu administrador para adicionar um número de telefone.
not-offered = Escolha um dos métodos oferecidos.

## Digitar o código

code-title = Digite seu código
code-totp-notice = Abra seu app autenticador e digite o código que ele mostra para { $app }.
code-sent-sms = Enviamos um código por SMS para { $to }.
code-sent-voice = Estamos ligando para { $to } para informar o código.
code-sent = Enviamos um código para { $to }.
code-label = Código
code-label-digits = Código de { $n } dígitos
code-verify = Verificar
call-instead = Prefiro uma ligação
push-instead = Prefiro aprovar no celular
code-missing = Digite o código que você recebeu.
code-none-waiting = Não há nenhum código esperando por você. Peça um novo.
code-wrong = Esse código não está correto. { $left ->
    [one] Resta { $left } tentativa.
   *[other] Restam { $left } tentativas.
}
code-replayed = Esse código já foi usado. Aguarde o próximo código no seu app autenticador.
code-expired = Esse código expirou. Peça um novo.
code-unchecked = Não conseguimos verificar o código agora. Tente novamente em instantes.
code-exhausted = Muitos códigos incorretos. Peça um novo código.
too-many-failed = Muitas tentativas sem sucesso. Tente novamente em { $wait }.

## Envio de códigos

resend-wait = { $seconds ->
    [one] Aguarde { $seconds } segundo antes de pedir outro código.
   *[other] Aguarde { $seconds } segundos antes de pedir outro código.
}
totp-wait = { $seconds ->
    [one] Aguarde { $seconds } segundo antes de começar de novo.
   *[other] Aguarde { $seconds } segundos antes de começar de novo.
}
cap-push = Muitas solicitações de login enviadas para o seu celular. Tente novamente em { $wait }.
cap-codes = Muitos códigos solicitados. Tente novamente em { $wait }.
cap-totp = Muitos logins com o seu app autenticador. Tente novamente em { $wait }.
number-invalid = Este número não pode receber códigos. Fale com o seu administrador.
send-failed = Não conseguimos enviar o código. Tente outro método ou tente novamente mais tarde.

## Aprovação no celular

push-title = Aprove no seu celular
push-tap = Enviamos uma notificação para o seu celular. Toque neste número lá:
push-only-now = Só toque nele se você estiver entrando agora. Qualquer outro número interrompe o login.
push-duo = Aprove a solicitação no Duo Mobile.
push-approve = Aprove a solicitação no seu celular.
push-waiting = Aguardando sua resposta · faltam { $left }
push-approved-continue = Já aprovei — continuar
push-use-code = Prefiro usar um código
push-denied = O login foi recusado no seu celular ou o número errado foi escolhido. Comece de novo ou use outro método.
push-expired = A solicitação expirou. Envie uma nova ou use outro método.
push-notice-title = Login em { $app }
push-notice-text = Login em { $app } a partir de { $client }, { $browser }

## Adicionar um app autenticador

enroll-title = Adicionar um app autenticador
enroll-replacing = Ele substitui o autenticador que você usa hoje.
enroll-scan = Escaneie este código com seu app autenticador (Google Authenticator, Aegis, 1Password…).
enroll-key = Ou digite esta chave no app:
enroll-current-label = Primeiro, o código que seu autenticador atual mostra agora
enroll-code-label = Depois, digite o código de 6 dígitos que ele mostra
enroll-code-label-new = Depois, digite o código de 6 dígitos que o novo app mostra
enroll-save = Salvar
enroll-wrong = Esse código não está correto. Confira se o app mostra um código para esta conta e digite o atual.
enroll-current-wrong = Esse não é o código atual do autenticador que você usa hoje.
enroll-reauth-title = Entrar novamente
enroll-reauth-text = Para adicionar um app autenticador, entre novamente primeiro: precisa ser você, e não alguém que encontrou este navegador aberto.
enroll-admin-title = Peça a um administrador
enroll-admin-text = Aqui, os apps autenticadores são adicionados por um administrador: peça para ele executar `doorman totp enroll` para a sua conta.
enroll-not-saved-title = Não salvo
enroll-not-saved-text = Não foi possível salvar o autenticador. Peça a um administrador para adicioná-lo.
enroll-replaced-title = Autenticador substituído
enroll-replaced-text = De agora em diante, só os códigos do novo app autenticador funcionam.
enroll-added-title = Autenticador adicionado
enroll-added-text = De agora em diante, você pode entrar com um código do seu app autenticador.

## Sair

logout-title = Sair
logout-signed-in-as = Você entrou como { $user }.
logout-question = Sair de { $app } neste navegador?
logout-stay = Continuar conectado
signed-out-title = Você saiu
signed-out-text = Você saiu da sua conta.

## Erros

error-title = Algo deu errado
refused-forbidden-title = Acesso negado
refused-unavailable-title = O aplicativo não está disponível
error-bad_request = Não foi possível entender a solicitação.
error-too_large = A solicitação era grande demais.
error-request_timeout = A solicitação demorou demais para chegar. Tente novamente.
error-csrf = O formulário expirou ou não veio deste site. Volte, recarregue a página e tente novamente.
error-not_found = Esta página não existe.
error-temporarily_unavailable = O login está temporariamente indisponível. Tente novamente em um minuto.
error-internal = Algo deu errado do nosso lado.
error-forbidden = Você não tem acesso a esta página.
error-method_not_allowed = Esta página não aceita esse tipo de solicitação.
error-upstream_unavailable = O aplicativo não está acessível agora. Tente novamente em instantes.
error-upstream_timeout = O aplicativo não respondeu a tempo. Tente novamente em instantes.

## SMS e ligações

sms-code = Seu código do { $app } é { $code }
voice-code = Seu código do { $app } é { $digits }. Repetindo: { $digits }.

## Passkeys, recovery codes, trusted devices
remember-device = Lembrar este dispositivo por { $period }
passkey-noscript = Chaves de acesso precisam de JavaScript; escolha outro método abaixo.
recovery-summary = Perdeu o celular ou a chave? Use um código de recuperação
recovery-label = Código de recuperação
recovery-submit = Usar o código de recuperação
passkey-sign-in = Entrar com uma chave de acesso

sign-in-again-to-change-passkeys = Para alterar suas chaves de acesso, entre de novo primeiro: precisamos ter certeza de que é você, e não alguém que encontrou este navegador aberto.
sign-in-again-to-make-recovery-codes = Para gerar códigos de recuperação, entre de novo primeiro: precisamos ter certeza de que é você, e não alguém que encontrou este navegador aberto.
period-days = { $n ->
    [one] { $n } dia
   *[other] { $n } dias
}
period-hours = { $n ->
    [one] { $n } hora
   *[other] { $n } horas
}
period-minutes = { $n ->
    [one] { $n } minuto
   *[other] { $n } minutos
}

## Passkeys page

passkeys-title = Chaves de acesso
passkeys-heading = Chaves de acesso e chaves de segurança
date-time = { $day } de { $month } de { $year }, { $time } UTC
month-1 = janeiro
month-2 = fevereiro
month-3 = março
month-4 = abril
month-5 = maio
month-6 = junho
month-7 = julho
month-8 = agosto
month-9 = setembro
month-10 = outubro
month-11 = novembro
month-12 = dezembro
passkey-added-on = Adicionada em { $when }
passkey-last-used = último uso em { $when }
passkey-not-used = ainda não usada
passkey-remove = Remover
passkey-remove-label = Remover { $name }
passkeys-none = Você ainda não tem nenhuma chave de acesso. Uma chave de acesso faz seu login com o bloqueio de tela do dispositivo ou com uma chave de segurança, e não pode ser roubada por phishing.
passkey-name-label = Nome da nova chave de acesso
passkey-name-placeholder = ex.: Notebook, YubiKey
passkey-default-name = Chave de acesso
passkey-add = Adicionar uma chave de acesso
passkey-add-noscript = Para adicionar uma chave de acesso é preciso JavaScript.
passkey-unsupported = Este navegador não aceita chaves de acesso. Escolha outro método.
passkey-prompt = Siga as instruções do seu navegador…
passkey-no-answer = A chave de acesso não respondeu. Tente de novo ou escolha outro método.
passkey-rejected = Essa chave de acesso não foi aceita. Tente de novo ou escolha outro método.
passkey-rejected-password = Essa chave de acesso não foi aceita. Entre com sua senha.
passkey-not-added = A chave de acesso não foi adicionada. Tente de novo.
passkey-not-yours = Essa chave de acesso não está na sua conta.
passkey-added = Chave de acesso “{ $name }” adicionada.
passkey-removed = Chave de acesso “{ $name }” removida.

## Recovery codes page

recovery-title = Códigos de recuperação
recovery-new = Seus novos códigos de recuperação. Guarde-os em um lugar seguro: cada um funciona uma única vez, no lugar do seu segundo fator. Eles só aparecem agora; os antigos não funcionam mais.
recovery-none = Você não tem códigos de recuperação. Eles permitem entrar quando você perde o celular ou a chave de segurança.
recovery-unused = { $n ->
    [one] Você tem { $count } código de recuperação não usado.
   *[other] Você tem { $count } códigos de recuperação não usados.
}
recovery-make = Gerar códigos de recuperação
recovery-make-new = Gerar novos códigos (os antigos deixam de funcionar)
recovery-missing = Digite um dos seus códigos de recuperação.
recovery-wrong = Esse código de recuperação está errado ou já foi usado.
recovery-signed-in-title = Login feito com um código de recuperação
recovery-last = Esse era seu último código de recuperação. Gere novos agora, antes de precisar deles.
recovery-left = { $n ->
    [one] Resta 1 código de recuperação. Gere novos em breve.
   *[other] Restam { $n } códigos de recuperação.
}
