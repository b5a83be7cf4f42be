PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version VALUES('0005');
CREATE TABLE feed (
	id VARCHAR NOT NULL, 
	url VARCHAR NOT NULL, 
	moved_to VARCHAR, 
	title VARCHAR NOT NULL, 
	tags JSON NOT NULL, 
	interval_seconds INTEGER NOT NULL, 
	active BOOLEAN NOT NULL, 
	etag VARCHAR, 
	last_modified VARCHAR, 
	body_hash VARCHAR, 
	http_status INTEGER, 
	last_checked_at VARCHAR(26), 
	last_success_at VARCHAR(26), 
	failing_since VARCHAR(26), 
	error_count INTEGER NOT NULL, 
	last_error TEXT NOT NULL, 
	next_check_at VARCHAR(26), 
	dead BOOLEAN NOT NULL, 
	lease_owner VARCHAR, 
	lease_until VARCHAR(26), 
	PRIMARY KEY (id)
);
INSERT INTO feed VALUES('local','http://127.0.0.1:18931/feed.xml',NULL,'T','["korea"]',900,1,NULL,'Fri, 04 Dec 2026 23:53:06 GMT','a571ffb74db8027e9d933b760596c80f8dc4e5bf31e52b26a66a595a55a76b6a',200,'2026-12-04 23:53:11.269027','2026-12-04 23:53:11.269027',NULL,0,'','2026-12-05 00:08:11.269027',0,NULL,NULL);
CREATE TABLE entry (
	id INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	feed_id VARCHAR NOT NULL, 
	guid VARCHAR NOT NULL, 
	link VARCHAR NOT NULL, 
	title TEXT NOT NULL, 
	text TEXT NOT NULL, 
	published VARCHAR(26), 
	first_seen VARCHAR(26) NOT NULL, 
	time VARCHAR(26) NOT NULL, 
	publisher VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE ("key")
);
INSERT INTO entry VALUES(1,'4258b3430ad319553660902b92c60f6fc129c736ff5902349ccba70bc5546e74','local','g0','https://alpha.example.com/news/0','Xi to visit Seoul in spring, officials say (0)','Officials said Xi will visit Seoul next spring. Report number 0 with details 0.','2026-12-04 10:00:00.000000','2026-12-04 23:53:11.038688','2026-12-04 10:00:00.000000','example.com');
INSERT INTO entry VALUES(2,'67b15181b220471eb0c4a7437a51e2e5fbb32af476aa48e45a50ba4e7425626b','local','g1','https://beta.example.org/news/1','Xi to visit Seoul in spring, officials say (1)','Officials said Xi will visit Seoul next spring. Report number 1 with details 7.','2026-12-04 10:01:00.000000','2026-12-04 23:53:11.038688','2026-12-04 10:01:00.000000','example.org');
INSERT INTO entry VALUES(3,'1f77d32de0e74e408929b99b7259d4a74d99fb22ba6d448f9c2ff3c92076514c','local','g2','https://gamma.example.net/news/2','Xi to visit Seoul in spring, officials say (2)','Officials said Xi will visit Seoul next spring. Report number 2 with details 14.','2026-12-04 10:02:00.000000','2026-12-04 23:53:11.038688','2026-12-04 10:02:00.000000','example.net');
INSERT INTO entry VALUES(4,'36c8666c3c5c36241ff830ce6de2792c65ab8a6f445c39db2ad2086c84f6a099','local','w1','https://alpha.example.com/w','Weather in Busan','Sunny.','2026-12-04 09:00:00.000000','2026-12-04 23:53:11.038688','2026-12-04 09:00:00.000000','example.com');
CREATE TABLE entry_match (
	entry_id INTEGER NOT NULL, 
	indicator_id VARCHAR NOT NULL, 
	outcome_id VARCHAR NOT NULL, 
	terms JSON NOT NULL, 
	snippet TEXT NOT NULL, 
	definition_hash VARCHAR NOT NULL, 
	PRIMARY KEY (entry_id, indicator_id, outcome_id), 
	FOREIGN KEY(entry_id) REFERENCES entry (id) ON DELETE CASCADE
);
INSERT INTO entry_match VALUES(1,'xi-visit','announced','["Xi", "title:visit*"]','Xi to visit Seoul in spring, officials say (0) Officials said Xi will visit Seoul next spring. Report number 0 with details 0.','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb');
INSERT INTO entry_match VALUES(2,'xi-visit','announced','["Xi", "title:visit*"]','Xi to visit Seoul in spring, officials say (1) Officials said Xi will visit Seoul next spring. Report number 1 with details 7.','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb');
INSERT INTO entry_match VALUES(3,'xi-visit','announced','["Xi", "title:visit*"]','Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14.','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb');
CREATE TABLE indicator_state (
	indicator_id VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	since VARCHAR(26) NOT NULL, 
	definition_hash VARCHAR NOT NULL, 
	version INTEGER NOT NULL, started_at VARCHAR(26), 
	PRIMARY KEY (indicator_id)
);
INSERT INTO indicator_state VALUES('xi-visit','announced:confirmed','2026-12-04 23:53:19.338944','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb',3,'2026-12-04 23:53:11.038688');
CREATE TABLE digest (
	day DATE NOT NULL, 
	claimed_at VARCHAR(26), 
	claimed_by VARCHAR, 
	sent_at VARCHAR(26), 
	failed_at VARCHAR(26), 
	attempts INTEGER NOT NULL, 
	last_error TEXT NOT NULL, 
	PRIMARY KEY (day)
);
CREATE TABLE cycle (
	id INTEGER NOT NULL, 
	started_at VARCHAR(26) NOT NULL, 
	finished_at VARCHAR(26) NOT NULL, 
	feeds_checked INTEGER NOT NULL, 
	not_modified INTEGER NOT NULL, 
	failed INTEGER NOT NULL, 
	new_entries INTEGER NOT NULL, 
	matches INTEGER NOT NULL, 
	changes INTEGER NOT NULL, 
	ok BOOLEAN NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO cycle VALUES(1,'2026-12-04 23:53:11.038688','2026-12-04 23:53:11.278948',1,0,0,4,3,1,1);
CREATE TABLE verdict (
	id INTEGER NOT NULL, 
	entry_id INTEGER NOT NULL, 
	indicator_id VARCHAR NOT NULL, 
	outcome_id VARCHAR NOT NULL, 
	verdict VARCHAR NOT NULL, 
	who VARCHAR NOT NULL, 
	at VARCHAR(26) NOT NULL, 
	note TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(entry_id) REFERENCES entry (id) ON DELETE CASCADE
);
INSERT INTO verdict VALUES(1,1,'xi-visit','announced','no','cli','2026-12-04 23:53:17.506920','not a visit');
INSERT INTO verdict VALUES(2,2,'xi-visit','announced','no','cli','2026-12-04 23:53:18.579703','dup');
INSERT INTO verdict VALUES(3,4,'xi-visit','announced','yes','cli','2026-12-04 23:53:19.338944','missed');
CREATE TABLE IF NOT EXISTS "status_change" (
	id INTEGER NOT NULL, 
	indicator_id VARCHAR NOT NULL, 
	at VARCHAR(26) NOT NULL, 
	old_status VARCHAR NOT NULL, 
	new_status VARCHAR NOT NULL, 
	evidence JSON NOT NULL, 
	definition_hash VARCHAR NOT NULL, 
	replayed BOOLEAN NOT NULL, 
	reason TEXT, 
	notified_at VARCHAR(26), 
	notify_attempts INTEGER NOT NULL, 
	notify_after VARCHAR(26), 
	notify_owner VARCHAR, 
	notify_until VARCHAR(26), 
	notify_error TEXT NOT NULL, 
	notify_done JSON NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO status_change VALUES(1,'xi-visit','2026-12-04 23:53:11.038688','unknown','announced:confirmed','[{"entry_id": 3, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (2)", "link": "https://gamma.example.net/news/2", "publisher": "example.net", "time": "2026-12-04T10:02:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14."}, {"entry_id": 2, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (1)", "link": "https://beta.example.org/news/1", "publisher": "example.org", "time": "2026-12-04T10:01:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (1) Officials said Xi will visit Seoul next spring. Report number 1 with details 7."}, {"entry_id": 1, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (0)", "link": "https://alpha.example.com/news/0", "publisher": "example.com", "time": "2026-12-04T10:00:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (0) Officials said Xi will visit Seoul next spring. Report number 0 with details 0."}]','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb',0,NULL,'2026-12-04 23:53:11.038688',0,NULL,NULL,NULL,'','[]');
INSERT INTO status_change VALUES(2,'xi-visit','2026-12-04 23:53:18.579703','announced:confirmed','announced:reported','[{"entry_id": 3, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (2)", "link": "https://gamma.example.net/news/2", "publisher": "example.net", "time": "2026-12-04T10:02:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14."}]','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb',0,'verdict: no on entry 2 by cli: dup','2026-12-04 23:53:18.579703',0,NULL,NULL,NULL,'','[]');
INSERT INTO status_change VALUES(3,'xi-visit','2026-12-04 23:53:19.338944','announced:reported','announced:confirmed','[{"entry_id": 3, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (2)", "link": "https://gamma.example.net/news/2", "publisher": "example.net", "time": "2026-12-04T10:02:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14."}, {"entry_id": 4, "outcome": "announced", "title": "Weather in Busan", "link": "https://alpha.example.com/w", "publisher": "example.com", "time": "2026-12-04T09:00:00+00:00", "terms": [], "snippet": "Sunny.", "judged": "yes"}]','85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb',0,'verdict: yes on entry 4 by cli: missed','2026-12-04 23:53:19.338944',0,NULL,NULL,NULL,'','[]');
CREATE TABLE silence (
	id INTEGER NOT NULL, 
	indicator_id VARCHAR NOT NULL, 
	outcome_id VARCHAR, 
	reason TEXT NOT NULL, 
	created_by VARCHAR NOT NULL, 
	created_at VARCHAR(26) NOT NULL, 
	until VARCHAR(26) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO silence VALUES(1,'xi-visit',NULL,'state visit','ana','2026-12-04 23:53:19.564084','2026-12-11 23:53:19.564084');
INSERT INTO silence VALUES(2,'xi-visit','announced','second','ana','2026-12-04 23:53:20.335667','2026-12-06 23:53:20.335667');
CREATE TABLE silence_end (
	silence_id INTEGER NOT NULL, 
	ended_at VARCHAR(26) NOT NULL, 
	ended_by VARCHAR NOT NULL, 
	PRIMARY KEY (silence_id), 
	FOREIGN KEY(silence_id) REFERENCES silence (id) ON DELETE CASCADE
);
INSERT INTO silence_end VALUES(2,'2026-12-04 23:53:21.072499','ana');
CREATE INDEX ix_feed_next_check_at ON feed (next_check_at);
CREATE INDEX ix_entry_first_seen ON entry (first_seen);
CREATE INDEX ix_entry_time ON entry (time);
CREATE INDEX ix_entry_match_indicator_entry ON entry_match (indicator_id, entry_id);
CREATE INDEX ix_verdict_indicator_entry ON verdict (indicator_id, entry_id);
CREATE INDEX ix_verdict_entry_id ON verdict (entry_id);
CREATE INDEX ix_status_change_at ON status_change (at);
CREATE INDEX ix_status_change_indicator_at ON status_change (indicator_id, at);
CREATE INDEX ix_status_change_notified_at ON status_change (notified_at);
CREATE INDEX ix_silence_indicator_until ON silence (indicator_id, until);
COMMIT;
