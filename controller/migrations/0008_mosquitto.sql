-- Mosquitto's own hash of each node's MQTT password (`$7$`: PBKDF2-SHA512, as mosquitto_passwd
-- writes it), for the password file `loa-controller mosquitto-config` writes. The controller
-- can only compute it while the plain password exists: at provisioning and at a credential
-- reset. NULL for nodes provisioned before this column, until their credentials are reset.
ALTER TABLE nodes ADD COLUMN mqtt_mosquitto_hash TEXT;
