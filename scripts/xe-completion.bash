# Bash completion for Xenon's xe. Source it (or copy it to
# /etc/bash_completion.d/xe). Everything is asked of xe itself:
#   commands      xe help --minimal --all
#   parameters    the "reqd params" / "optional params" lines of xe help CMD
#   uuid values   xe <class>-list params=uuid --minimal
#   vm=/host=/sr= xe <class>-list params=name-label --minimal
# Connection options typed on the line (-s, -p, -u, -pw, -pwf, --nossl) are
# passed on to those calls, so completion works without ~/.xe too.

# The connection options present on the command line being completed.
__xe_conn_args()
{
	local i w
	__xe_conn=()
	for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		case "$w" in
		-s|-h|-p|-u|-pw|-pwf)
			__xe_conn+=("$w" "${COMP_WORDS[i+1]}")
			((i++))
			;;
		--nossl|--xmlrpc)
			__xe_conn+=("$w")
			;;
		esac
	done
}

__xe()
{
	"${__xe_cmd:-xe}" "${__xe_conn[@]}" "$@" 2>/dev/null
}

# Splits --minimal output at unescaped commas, one value per line.
__xe_split_minimal()
{
	sed -e 's/\\\\/\x01/g' -e 's/\\,/\x02/g' -e 's/,/\n/g' -e 's/\x02/,/g' -e 's/\x01/\\/g'
}

# The parameters a command takes, as name= words (maps keep their ':').
__xe_params_of()
{
	__xe help "$1" | sed -n -e 's/^ *reqd params *: *//p' -e 's/^ *optional params *: *//p' |
		tr ',' '\n' | sed -e 's/^ *//' -e 's/ *$//' | grep -v '^<.*>$' | grep -v '^$' |
		sed -e 's/[^:]$/&=/'
}

# The xe class a command works on: <class>-list and <class>-param-* name it;
# otherwise the longest prefix that has a -list (vm-start -> vm,
# host-cpu-... -> host-cpu).
__xe_class_of()
{
	local cmd=$1 cls="" try="" rest
	case "$cmd" in
	*-param-*) echo "${cmd%%-param-*}"; return ;;
	*-list) echo "${cmd%-list}"; return ;;
	esac
	local all=",$(__xe help --minimal --all),"
	rest=$cmd
	while [[ $rest == *-* ]]; do
		try=${try:+$try-}${rest%%-*}
		rest=${rest#*-}
		[[ $all == *",$try-list,"* ]] && cls=$try
	done
	echo "$cls"
}

_xe()
{
	local cur cmd i words=() cword
	# Rebuild words split at '=' and ':' by COMP_WORDBREAKS into whole words.
	for ((i = 0; i <= COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == "=" || ${COMP_WORDS[i]} == ":" ]] && ((${#words[@]})); then
			words[-1]+=${COMP_WORDS[i]}
			if ((i < COMP_CWORD)); then
				((i++))
				words[-1]+=${COMP_WORDS[i]}
			fi
		else
			words+=("${COMP_WORDS[i]}")
		fi
	done
	cword=$((${#words[@]} - 1))
	cur=${words[cword]}
	__xe_conn_args
	__xe_cmd=${words[0]}

	# The command is the first word that is not a connection option.
	cmd=""
	for ((i = 1; i < cword; i++)); do
		case "${words[i]}" in
		-s|-h|-p|-u|-pw|-pwf) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	local IFS=$'\n'
	if [[ -z $cmd || $cmd == help && $cword -eq $((i + 1)) ]]; then
		[[ $cur == -* ]] && return 0
		COMPREPLY=($(compgen -W "$(__xe help --minimal --all | tr ',' '\n')" -- "$cur"))
		return 0
	fi

	if [[ $cur != *=* ]]; then
		COMPREPLY=($(compgen -W "$(__xe_params_of "$cmd")" -- "$cur"))
		# name= and map: words take their value next: no trailing space.
		compopt -o nospace 2>/dev/null
		return 0
	fi

	local param=${cur%%=*} value=${cur#*=} cls values=""
	cls=$(__xe_class_of "$cmd")
	case "$param" in
	uuid)
		[[ -n $cls ]] && values=$(__xe "$cls-list" params=uuid --minimal | __xe_split_minimal)
		;;
	*-uuid)
		values=$(__xe "${param%-uuid}-list" params=uuid --minimal | __xe_split_minimal)
		;;
	vm|host|sr)
		values=$(__xe "$param-list" params=name-label --minimal | __xe_split_minimal)
		;;
	params|param-name)
		[[ -n $cls ]] && values=$(__xe_params_of "$cls-list" | sed -e 's/[=:]$//' |
			grep -v -e '^params$' -e '^database$')
		[[ $param == params ]] && values+=$'\nall'
		;;
	filename|file-name)
		values=$(compgen -f -- "$value")
		;;
	force|multiple|minimal|live|paused|shared|sharable|bootable|managed|online)
		values=$'true\nfalse'
		;;
	esac
	COMPREPLY=($(compgen -W "$values" -- "$value"))
	return 0
}

complete -F _xe xe
