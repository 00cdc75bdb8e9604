-- Where each loudspeaker stands, for the station map: latitude and longitude in degrees
-- (WGS 84, as a phone's GPS gives them), both NULL until someone sets them. Set at
-- provisioning, by staff (the API, the zones page) or by the installer (`loa-node check
-- --location`, reported in the node's state). The latest set wins: a location is taken only
-- when it was set after the one kept (`location_set_at`).

ALTER TABLE nodes ADD COLUMN latitude REAL;
ALTER TABLE nodes ADD COLUMN longitude REAL;
-- RFC 3339, UTC: when the kept location was set (by the installer's clock for `installer`).
ALTER TABLE nodes ADD COLUMN location_set_at TEXT;
-- Who set it: provisioning | centre | installer.
ALTER TABLE nodes ADD COLUMN location_source TEXT;
