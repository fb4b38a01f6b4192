# the secret lives outside the context
printf 's3cret-value' > ../secret.txt
