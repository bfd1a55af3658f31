-- Version 2: an incident involves several services (its primary one, those
-- it affects, those of incidents merged into it) and is found by any of
-- them.
CREATE TABLE incident_services (
    service  text COLLATE "C" NOT NULL, -- lower-cased service name (hashed when long)
    incident bigint NOT NULL REFERENCES incidents (number),
    PRIMARY KEY (service, incident)
);
INSERT INTO incident_services (service, incident) SELECT service, number FROM incidents;
