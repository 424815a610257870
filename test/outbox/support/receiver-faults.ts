import type pg from 'pg';

/**
 * Makes every fifth write to the likes receiver's counter (`like_counts` in `schema`)
 * fail: its transaction rolls back and the receiver naks, so the message comes again.
 */
export async function failEveryFifthCountWrite(db: pg.Pool, schema: string): Promise<void> {
  await db.query(`
    CREATE SEQUENCE "${schema}".writes;
    CREATE FUNCTION "${schema}".fail_some() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('"${schema}".writes') % 5 = 0 THEN RAISE EXCEPTION 'injected failure'; END IF;
        RETURN NEW;
      END $$;
    CREATE TRIGGER fail_some BEFORE INSERT OR UPDATE ON "${schema}".like_counts FOR EACH ROW EXECUTE FUNCTION "${schema}".fail_some();
  `);
}
