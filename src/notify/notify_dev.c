/*
 * notify_dev.c — the development providers, for e-mail and for SMS: the
 * default, so that a fresh checkout can register and sign in without a
 * mail server or an SMS contract.
 *
 * They deliver nothing. A message is "delivered" by writing it, text
 * included, to the log (a developer reads the code there) and by keeping
 * its content in the outbox (tests read it with notify_outbox_find). This
 * is the one place where a message body reaches the log, which is why a
 * production configuration names a real provider.
 */
#include <stdio.h>

#include "notify_int.h"

static enum st dev_configure(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return ST_OK;
}

static const char *dev_email_system(void)
{
    return "email:dev";
}

static const char *dev_sms_system(void)
{
    return "sms:dev";
}

static enum st dev_send(const struct notify_delivery *d, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)d->id);
    /* Field names avoid the words the logger redacts ("code", "otp"...):
     * showing the text is the point of this provider. */
    log_kv(LOG_INFO, "notify.dev: message", "id", id, "channel", notify_channel_name(d->channel),
           "template", d->template_name, "to", d->to, "subject", d->subject, "text", d->body, NULL);
    return ST_OK;
}

const struct notify_provider notify_dev_email = {
    .name = "dev",
    .channel = NOTIFY_EMAIL,
    .keeps_content = true,
    .configure = dev_configure,
    .system = dev_email_system,
    .send = dev_send,
};

const struct notify_provider notify_dev_sms = {
    .name = "dev",
    .channel = NOTIFY_SMS,
    .keeps_content = true,
    .configure = dev_configure,
    .system = dev_sms_system,
    .send = dev_send,
};
