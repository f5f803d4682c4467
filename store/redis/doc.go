// Package redis is the Redis backend of the store contract.
package redis

import _ "github.com/redis/go-redis/v9"
