--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: cycle; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cycle (
    id integer NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    feeds_checked integer NOT NULL,
    not_modified integer NOT NULL,
    failed integer NOT NULL,
    new_entries integer NOT NULL,
    matches integer NOT NULL,
    changes integer NOT NULL,
    ok boolean NOT NULL
);


--
-- Name: cycle_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.cycle_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: cycle_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.cycle_id_seq OWNED BY public.cycle.id;


--
-- Name: digest; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.digest (
    day date NOT NULL,
    claimed_at timestamp with time zone,
    claimed_by character varying,
    sent_at timestamp with time zone,
    failed_at timestamp with time zone,
    attempts integer NOT NULL,
    last_error text NOT NULL
);


--
-- Name: entry; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.entry (
    id integer NOT NULL,
    key character varying NOT NULL,
    feed_id character varying NOT NULL,
    guid character varying NOT NULL,
    link character varying NOT NULL,
    title text NOT NULL,
    text text NOT NULL,
    published timestamp with time zone,
    first_seen timestamp with time zone NOT NULL,
    "time" timestamp with time zone NOT NULL,
    publisher character varying NOT NULL
);


--
-- Name: entry_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.entry_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: entry_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.entry_id_seq OWNED BY public.entry.id;


--
-- Name: entry_match; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.entry_match (
    entry_id integer NOT NULL,
    indicator_id character varying NOT NULL,
    outcome_id character varying NOT NULL,
    terms json NOT NULL,
    snippet text NOT NULL,
    definition_hash character varying NOT NULL
);


--
-- Name: feed; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feed (
    id character varying NOT NULL,
    url character varying NOT NULL,
    moved_to character varying,
    title character varying NOT NULL,
    tags json NOT NULL,
    interval_seconds integer NOT NULL,
    active boolean NOT NULL,
    etag character varying,
    last_modified character varying,
    body_hash character varying,
    http_status integer,
    last_checked_at timestamp with time zone,
    last_success_at timestamp with time zone,
    failing_since timestamp with time zone,
    error_count integer NOT NULL,
    last_error text NOT NULL,
    next_check_at timestamp with time zone,
    dead boolean NOT NULL,
    lease_owner character varying,
    lease_until timestamp with time zone
);


--
-- Name: indicator_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.indicator_state (
    indicator_id character varying NOT NULL,
    status character varying NOT NULL,
    since timestamp with time zone NOT NULL,
    definition_hash character varying NOT NULL,
    version integer NOT NULL,
    started_at timestamp with time zone
);


--
-- Name: silence; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.silence (
    id integer NOT NULL,
    indicator_id character varying NOT NULL,
    outcome_id character varying,
    reason text NOT NULL,
    created_by character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    until timestamp with time zone NOT NULL
);


--
-- Name: silence_end; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.silence_end (
    silence_id integer NOT NULL,
    ended_at timestamp with time zone NOT NULL,
    ended_by character varying NOT NULL
);


--
-- Name: silence_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.silence_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: silence_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.silence_id_seq OWNED BY public.silence.id;


--
-- Name: status_change; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.status_change (
    id integer NOT NULL,
    indicator_id character varying NOT NULL,
    at timestamp with time zone NOT NULL,
    old_status character varying NOT NULL,
    new_status character varying NOT NULL,
    evidence json NOT NULL,
    definition_hash character varying NOT NULL,
    replayed boolean NOT NULL,
    reason text,
    notified_at timestamp with time zone,
    notify_attempts integer NOT NULL,
    notify_after timestamp with time zone,
    notify_owner character varying,
    notify_until timestamp with time zone,
    notify_error text NOT NULL,
    notify_done json NOT NULL
);


--
-- Name: status_change_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.status_change_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: status_change_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.status_change_id_seq OWNED BY public.status_change.id;


--
-- Name: verdict; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.verdict (
    id integer NOT NULL,
    entry_id integer NOT NULL,
    indicator_id character varying NOT NULL,
    outcome_id character varying NOT NULL,
    verdict character varying NOT NULL,
    who character varying NOT NULL,
    at timestamp with time zone NOT NULL,
    note text NOT NULL
);


--
-- Name: verdict_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.verdict_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: verdict_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.verdict_id_seq OWNED BY public.verdict.id;


--
-- Name: cycle id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cycle ALTER COLUMN id SET DEFAULT nextval('public.cycle_id_seq'::regclass);


--
-- Name: entry id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.entry ALTER COLUMN id SET DEFAULT nextval('public.entry_id_seq'::regclass);


--
-- Name: silence id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.silence ALTER COLUMN id SET DEFAULT nextval('public.silence_id_seq'::regclass);


--
-- Name: status_change id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_change ALTER COLUMN id SET DEFAULT nextval('public.status_change_id_seq'::regclass);


--
-- Name: verdict id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.verdict ALTER COLUMN id SET DEFAULT nextval('public.verdict_id_seq'::regclass);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.alembic_version VALUES ('0005');


--
-- Data for Name: cycle; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.cycle VALUES (1, '2026-12-05 00:08:24.276062+00', '2026-12-05 00:08:25.8857+00', 1, 0, 0, 4, 3, 1, true);


--
-- Data for Name: digest; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: entry; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.entry VALUES (1, '4258b3430ad319553660902b92c60f6fc129c736ff5902349ccba70bc5546e74', 'local', 'g0', 'https://alpha.example.com/news/0', 'Xi to visit Seoul in spring, officials say (0)', 'Officials said Xi will visit Seoul next spring. Report number 0 with details 0.', '2026-12-04 10:00:00+00', '2026-12-05 00:08:24.276062+00', '2026-12-04 10:00:00+00', 'example.com');
INSERT INTO public.entry VALUES (2, '67b15181b220471eb0c4a7437a51e2e5fbb32af476aa48e45a50ba4e7425626b', 'local', 'g1', 'https://beta.example.org/news/1', 'Xi to visit Seoul in spring, officials say (1)', 'Officials said Xi will visit Seoul next spring. Report number 1 with details 7.', '2026-12-04 10:01:00+00', '2026-12-05 00:08:24.276062+00', '2026-12-04 10:01:00+00', 'example.org');
INSERT INTO public.entry VALUES (3, '1f77d32de0e74e408929b99b7259d4a74d99fb22ba6d448f9c2ff3c92076514c', 'local', 'g2', 'https://gamma.example.net/news/2', 'Xi to visit Seoul in spring, officials say (2)', 'Officials said Xi will visit Seoul next spring. Report number 2 with details 14.', '2026-12-04 10:02:00+00', '2026-12-05 00:08:24.276062+00', '2026-12-04 10:02:00+00', 'example.net');
INSERT INTO public.entry VALUES (4, '36c8666c3c5c36241ff830ce6de2792c65ab8a6f445c39db2ad2086c84f6a099', 'local', 'w1', 'https://alpha.example.com/w', 'Weather in Busan', 'Sunny.', '2026-12-04 09:00:00+00', '2026-12-05 00:08:24.276062+00', '2026-12-04 09:00:00+00', 'example.com');


--
-- Data for Name: entry_match; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.entry_match VALUES (1, 'xi-visit', 'announced', '["Xi", "title:visit*"]', 'Xi to visit Seoul in spring, officials say (0) Officials said Xi will visit Seoul next spring. Report number 0 with details 0.', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb');
INSERT INTO public.entry_match VALUES (2, 'xi-visit', 'announced', '["Xi", "title:visit*"]', 'Xi to visit Seoul in spring, officials say (1) Officials said Xi will visit Seoul next spring. Report number 1 with details 7.', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb');
INSERT INTO public.entry_match VALUES (3, 'xi-visit', 'announced', '["Xi", "title:visit*"]', 'Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14.', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb');


--
-- Data for Name: feed; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.feed VALUES ('local', 'http://127.0.0.1:18931/feed.xml', NULL, 'T', '["korea"]', 900, true, NULL, 'Fri, 04 Dec 2026 23:53:06 GMT', 'a571ffb74db8027e9d933b760596c80f8dc4e5bf31e52b26a66a595a55a76b6a', 200, '2026-12-05 00:08:25.79785+00', '2026-12-05 00:08:25.79785+00', NULL, 0, '', '2026-12-05 00:23:25.79785+00', false, NULL, NULL);


--
-- Data for Name: indicator_state; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.indicator_state VALUES ('xi-visit', 'announced:confirmed', '2026-12-05 00:08:32.719833+00', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb', 3, '2026-12-05 00:08:24.276062+00');


--
-- Data for Name: silence; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.silence VALUES (1, 'xi-visit', NULL, 'state visit', 'ana', '2026-12-05 00:08:33.523325+00', '2026-12-12 00:08:33.523325+00');
INSERT INTO public.silence VALUES (2, 'xi-visit', 'announced', 'second', 'ana', '2026-12-05 00:08:34.872555+00', '2026-12-07 00:08:34.872555+00');


--
-- Data for Name: silence_end; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.silence_end VALUES (2, '2026-12-05 00:08:36.948068+00', 'ana');


--
-- Data for Name: status_change; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.status_change VALUES (1, 'xi-visit', '2026-12-05 00:08:24.276062+00', 'unknown', 'announced:confirmed', '[{"entry_id": 3, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (2)", "link": "https://gamma.example.net/news/2", "publisher": "example.net", "time": "2026-12-04T10:02:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14."}, {"entry_id": 2, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (1)", "link": "https://beta.example.org/news/1", "publisher": "example.org", "time": "2026-12-04T10:01:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (1) Officials said Xi will visit Seoul next spring. Report number 1 with details 7."}, {"entry_id": 1, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (0)", "link": "https://alpha.example.com/news/0", "publisher": "example.com", "time": "2026-12-04T10:00:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (0) Officials said Xi will visit Seoul next spring. Report number 0 with details 0."}]', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb', false, NULL, '2026-12-05 00:08:24.276062+00', 0, NULL, NULL, NULL, '', '[]');
INSERT INTO public.status_change VALUES (2, 'xi-visit', '2026-12-05 00:08:31.376429+00', 'announced:confirmed', 'announced:reported', '[{"entry_id": 3, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (2)", "link": "https://gamma.example.net/news/2", "publisher": "example.net", "time": "2026-12-04T10:02:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14."}]', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb', false, 'verdict: no on entry 2 by cli: dup', '2026-12-05 00:08:31.376429+00', 0, NULL, NULL, NULL, '', '[]');
INSERT INTO public.status_change VALUES (3, 'xi-visit', '2026-12-05 00:08:32.719833+00', 'announced:reported', 'announced:confirmed', '[{"entry_id": 3, "outcome": "announced", "title": "Xi to visit Seoul in spring, officials say (2)", "link": "https://gamma.example.net/news/2", "publisher": "example.net", "time": "2026-12-04T10:02:00+00:00", "terms": ["Xi", "title:visit*"], "snippet": "Xi to visit Seoul in spring, officials say (2) Officials said Xi will visit Seoul next spring. Report number 2 with details 14."}, {"entry_id": 4, "outcome": "announced", "title": "Weather in Busan", "link": "https://alpha.example.com/w", "publisher": "example.com", "time": "2026-12-04T09:00:00+00:00", "terms": [], "snippet": "Sunny.", "judged": "yes"}]', '85c909991168fdf5c3024fd8196ccf8cfe37e8d0c48414334df7f8097f4d6cbb', false, 'verdict: yes on entry 4 by cli: missed', '2026-12-05 00:08:32.719833+00', 0, NULL, NULL, NULL, '', '[]');


--
-- Data for Name: verdict; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.verdict VALUES (1, 1, 'xi-visit', 'announced', 'no', 'cli', '2026-12-05 00:08:28.747781+00', 'not a visit');
INSERT INTO public.verdict VALUES (2, 2, 'xi-visit', 'announced', 'no', 'cli', '2026-12-05 00:08:31.376429+00', 'dup');
INSERT INTO public.verdict VALUES (3, 4, 'xi-visit', 'announced', 'yes', 'cli', '2026-12-05 00:08:32.719833+00', 'missed');


--
-- Name: cycle_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.cycle_id_seq', 1, true);


--
-- Name: entry_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.entry_id_seq', 4, true);


--
-- Name: silence_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.silence_id_seq', 2, true);


--
-- Name: status_change_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.status_change_id_seq', 3, true);


--
-- Name: verdict_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.verdict_id_seq', 3, true);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: cycle cycle_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cycle
    ADD CONSTRAINT cycle_pkey PRIMARY KEY (id);


--
-- Name: digest digest_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.digest
    ADD CONSTRAINT digest_pkey PRIMARY KEY (day);


--
-- Name: entry entry_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.entry
    ADD CONSTRAINT entry_key_key UNIQUE (key);


--
-- Name: entry_match entry_match_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.entry_match
    ADD CONSTRAINT entry_match_pkey PRIMARY KEY (entry_id, indicator_id, outcome_id);


--
-- Name: entry entry_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.entry
    ADD CONSTRAINT entry_pkey PRIMARY KEY (id);


--
-- Name: feed feed_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feed
    ADD CONSTRAINT feed_pkey PRIMARY KEY (id);


--
-- Name: indicator_state indicator_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.indicator_state
    ADD CONSTRAINT indicator_state_pkey PRIMARY KEY (indicator_id);


--
-- Name: silence_end silence_end_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.silence_end
    ADD CONSTRAINT silence_end_pkey PRIMARY KEY (silence_id);


--
-- Name: silence silence_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.silence
    ADD CONSTRAINT silence_pkey PRIMARY KEY (id);


--
-- Name: status_change status_change_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_change
    ADD CONSTRAINT status_change_pkey PRIMARY KEY (id);


--
-- Name: verdict verdict_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.verdict
    ADD CONSTRAINT verdict_pkey PRIMARY KEY (id);


--
-- Name: ix_entry_first_seen; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_entry_first_seen ON public.entry USING btree (first_seen);


--
-- Name: ix_entry_match_indicator_entry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_entry_match_indicator_entry ON public.entry_match USING btree (indicator_id, entry_id);


--
-- Name: ix_entry_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_entry_time ON public.entry USING btree ("time");


--
-- Name: ix_feed_next_check_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_feed_next_check_at ON public.feed USING btree (next_check_at);


--
-- Name: ix_silence_indicator_until; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_silence_indicator_until ON public.silence USING btree (indicator_id, until);


--
-- Name: ix_status_change_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_status_change_at ON public.status_change USING btree (at);


--
-- Name: ix_status_change_indicator_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_status_change_indicator_at ON public.status_change USING btree (indicator_id, at);


--
-- Name: ix_status_change_notified_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_status_change_notified_at ON public.status_change USING btree (notified_at);


--
-- Name: ix_verdict_entry_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_verdict_entry_id ON public.verdict USING btree (entry_id);


--
-- Name: ix_verdict_indicator_entry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_verdict_indicator_entry ON public.verdict USING btree (indicator_id, entry_id);


--
-- Name: entry_match entry_match_entry_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.entry_match
    ADD CONSTRAINT entry_match_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES public.entry(id) ON DELETE CASCADE;


--
-- Name: silence_end silence_end_silence_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.silence_end
    ADD CONSTRAINT silence_end_silence_id_fkey FOREIGN KEY (silence_id) REFERENCES public.silence(id) ON DELETE CASCADE;


--
-- Name: verdict verdict_entry_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.verdict
    ADD CONSTRAINT verdict_entry_id_fkey FOREIGN KEY (entry_id) REFERENCES public.entry(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


