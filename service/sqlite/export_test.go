package sqlite

// Migrations are the schema's migrations, for the upgrade test.
var Migrations = migrations
